"""AES-256-GCM sealing under a keyring: format, rotation, associated data, and the errors."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from api.kit import secretbox
from api.kit.secretbox import Key, Keyring, MalformedError, TamperedError, UnknownKeyError

OLD = Key("old", bytes(range(32)))
NEW = Key("new-2026.11_a", bytes(range(100, 132)))
AAD = b"\x01" * 16


def test_format_is_version_key_id_nonce_then_ciphertext_and_tag() -> None:
    sealed = secretbox.seal(Keyring((NEW, OLD)), "whsec_abc", AAD)
    key_id = NEW.id.encode()
    assert sealed[0] == 1
    assert sealed[1] == len(key_id)
    assert sealed[2 : 2 + len(key_id)] == key_id
    assert len(sealed) == 2 + len(key_id) + 12 + len("whsec_abc") + 16
    assert secretbox.key_id_of(sealed) == NEW.id
    assert b"whsec_abc" not in sealed


def test_every_seal_draws_a_fresh_nonce() -> None:
    keys = Keyring((OLD,))
    first, second = (secretbox.seal(keys, "same", AAD) for _ in range(2))
    assert first != second
    header = 2 + len(OLD.id)
    assert first[header : header + 12] != second[header : header + 12]


@given(st.text(max_size=300), st.binary(max_size=40))
def test_what_is_sealed_opens_to_the_same_text(plaintext: str, aad: bytes) -> None:
    keys = Keyring((OLD,))
    assert secretbox.unseal(keys, secretbox.seal(keys, plaintext, aad), aad) == plaintext


def test_the_first_key_seals_and_every_key_opens() -> None:
    under_old = secretbox.seal(Keyring((OLD,)), "secret", AAD)
    rotated = Keyring((NEW, OLD))
    assert secretbox.unseal(rotated, under_old, AAD) == "secret"
    assert secretbox.key_id_of(secretbox.seal(rotated, "secret", AAD)) == NEW.id


def test_a_removed_key_is_named() -> None:
    under_old = secretbox.seal(Keyring((OLD,)), "secret", AAD)
    with pytest.raises(UnknownKeyError, match="key id old not configured") as raised:
        secretbox.unseal(Keyring((NEW,)), under_old, AAD)
    assert raised.value.key_id == "old"


def test_other_associated_data_does_not_open() -> None:
    keys = Keyring((OLD,))
    sealed = secretbox.seal(keys, "secret", AAD)
    with pytest.raises(TamperedError, match="key id old"):
        secretbox.unseal(keys, sealed, b"\x02" * 16)


def test_other_key_material_under_the_same_id_does_not_open() -> None:
    sealed = secretbox.seal(Keyring((OLD,)), "secret", AAD)
    with pytest.raises(TamperedError):
        secretbox.unseal(Keyring((Key("old", bytes(32)),)), sealed, AAD)


def test_any_altered_byte_after_the_header_is_refused() -> None:
    keys = Keyring((OLD,))
    sealed = secretbox.seal(keys, "secret", AAD)
    for position in range(2 + len(OLD.id), len(sealed)):
        altered = bytearray(sealed)
        altered[position] ^= 0x01
        with pytest.raises(TamperedError):
            secretbox.unseal(keys, bytes(altered), AAD)


def test_the_key_id_is_authenticated_too() -> None:
    same_material = Key("twin", OLD.material)
    keys = Keyring((OLD, same_material))
    sealed = secretbox.seal(keys, "secret", AAD)
    relabelled = bytes([1, len(b"twin")]) + b"twin" + sealed[2 + len(OLD.id) :]
    with pytest.raises(TamperedError):
        secretbox.unseal(keys, relabelled, AAD)


@pytest.mark.parametrize("sealed", [b"", b"\x01", b"\x02\x03old" + bytes(40), b"\x01\x03old" + bytes(10)])
def test_bytes_of_no_known_format_are_malformed(sealed: bytes) -> None:
    with pytest.raises(MalformedError):
        secretbox.unseal(Keyring((OLD,)), sealed, AAD)


def test_keys_are_checked() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        Key("short", bytes(16))
    with pytest.raises(ValueError, match="key id"):
        Key("has space", bytes(32))
    with pytest.raises(ValueError, match="listed twice"):
        Keyring((OLD, Key("old", bytes(32))))
    with pytest.raises(ValueError, match="at least one"):
        Keyring(())


def test_parse_reads_ids_and_base64url_keys_in_order() -> None:
    text = f" {NEW.id}:{secretbox.encode_key(NEW.material)} , old:{secretbox.encode_key(OLD.material)}=, "
    keys = secretbox.parse(text)
    assert keys.ids == (NEW.id, "old")
    assert keys.primary == NEW
    assert keys.find("old") == OLD


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("k1", "item 1 is not of the form"),
        ("k1:", "item 1 is not of the form"),
        (":" + "A" * 43, "item 1 is not of the form"),
        ("bad id:" + "A" * 43, "item 1: a key id"),
        ("k1:" + "A" * 42 + "+", "'k1' is not base64url"),
        ("k1:" + "A" * 22, "'k1' must decode to 32 bytes, got 16"),
        ("k1:" + "A" * 44, "'k1' must decode to 32 bytes, got 33"),
        (f"k1:{'A' * 43},k1:{'B' * 43}", "'k1' is listed twice"),
        (" , ", "at least one key"),
    ],
)
def test_parse_errors_name_the_item_but_never_the_key(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as raised:
        secretbox.parse(text)
    assert "AAAAAAAA" not in str(raised.value)
    assert "BBBBBBBB" not in str(raised.value)


def test_repr_shows_key_ids_only() -> None:
    keys = Keyring((NEW, OLD))
    shown = repr(keys) + repr(NEW) + str(keys)
    assert NEW.id in shown
    for key in (NEW, OLD):
        assert secretbox.encode_key(key.material) not in shown
        assert repr(key.material) not in shown
