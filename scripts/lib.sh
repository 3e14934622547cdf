# Shared by scripts/run and scripts/test: find uv, installing it with pip when missing.
uv_cmd() {
    if command -v uv >/dev/null 2>&1; then
        UV=(uv)
    elif python3 -m uv --version >/dev/null 2>&1; then
        UV=(python3 -m uv)
    else
        echo "installing uv with pip" >&2
        python3 -m pip install --quiet --disable-pip-version-check uv >&2
        UV=(python3 -m uv)
    fi
}
