"""Sealing short secrets at rest with AES-256-GCM under a ring of named keys.

Rules:
- A :class:`Keyring` is an ordered, non-empty list of keys, each a key id and 32 bytes of key material.
  The first key seals; every key in the ring opens what was sealed under its id. Rotation: put the
  new key first, keep the old one until everything was sealed again, then drop it.
- A key id is 1 to 64 characters of ``A-Z a-z 0-9 . _ -``; ids in a ring are unique.
- Sealed bytes: version ``0x01`` (1 byte), the key id's length (1 byte), the key id (ASCII), a random
  96-bit nonce (12 bytes), then the ciphertext with its 16-byte tag. The version byte and key id are
  authenticated together with the caller's associated data (for instance the id of the row that holds
  the value), which is not stored: a sealed value copied to another row does not open there.
- Opening raises a :class:`SealError`: :class:`UnknownKeyError` when the key id is not in the ring,
  :class:`TamperedError` when the tag does not verify (wrong key, other associated data, altered
  bytes), :class:`MalformedError` when the bytes are not of a known format. Messages name the key id,
  never key material or plaintext.
- ``repr`` of a key or a keyring shows the key ids only.
"""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

VERSION = 1
KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16
_KEY_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
_BASE64URL = re.compile(r"[A-Za-z0-9_-]+={0,2}")


class SealError(Exception):
    """A sealed value cannot be opened."""


class UnknownKeyError(SealError):
    """The value was sealed under a key id that the ring does not hold."""

    def __init__(self, key_id: str) -> None:
        super().__init__(f"key id {key_id} not configured")
        self.key_id = key_id


class TamperedError(SealError):
    """The tag does not verify: wrong key material, other associated data, or altered bytes."""

    def __init__(self, key_id: str) -> None:
        super().__init__(
            f"authentication failed under key id {key_id}: the key differs from the one that sealed it, "
            "or the value was altered or moved"
        )
        self.key_id = key_id


class MalformedError(SealError):
    """The bytes are not a sealed value of a known version."""


@dataclass(frozen=True, slots=True)
class Key:
    """One key: its id (stored with every value it seals) and its 32 bytes, hidden from ``repr``."""

    id: str
    material: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if not _KEY_ID.fullmatch(self.id):
            raise ValueError(f"key id {self.id!r} must be 1 to 64 characters of A-Z a-z 0-9 . _ -")
        if len(self.material) != KEY_BYTES:
            raise ValueError(f"key {self.id!r} must be {KEY_BYTES} bytes, got {len(self.material)}")


@dataclass(frozen=True, slots=True)
class Keyring:
    """Keys in order of preference: the first seals, all open."""

    keys: tuple[Key, ...]

    def __post_init__(self) -> None:
        if not self.keys:
            raise ValueError("at least one key is needed")
        seen: set[str] = set()
        for key in self.keys:
            if key.id in seen:
                raise ValueError(f"key id {key.id!r} is listed twice")
            seen.add(key.id)

    @classmethod
    def of(cls, keys: Iterable[Key]) -> Keyring:
        return cls(tuple(keys))

    @property
    def primary(self) -> Key:
        """The key that seals."""
        return self.keys[0]

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(key.id for key in self.keys)

    def find(self, key_id: str) -> Key | None:
        return next((key for key in self.keys if key.id == key_id), None)


def decode_key(text: str) -> bytes:
    """32 bytes from base64url text (padding optional); the error never repeats the text."""
    if not _BASE64URL.fullmatch(text):
        raise ValueError("is not base64url (A-Z a-z 0-9 - _)")
    body = text.rstrip("=")
    try:
        material = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except ValueError:
        raise ValueError("is not base64url (A-Z a-z 0-9 - _)") from None
    if len(material) != KEY_BYTES:
        raise ValueError(f"must decode to {KEY_BYTES} bytes, got {len(material)}")
    return material


def encode_key(material: bytes) -> str:
    """The base64url text (no padding) of key material, as ``parse`` reads it."""
    return base64.urlsafe_b64encode(material).decode("ascii").rstrip("=")


def parse(raw: str) -> Keyring:
    """A ring from ``key_id:base64url-key`` items separated by commas (blank items are skipped).

    Raises ``ValueError`` naming the item's position or key id, never its key material.
    """
    keys: list[Key] = []
    items = [item.strip() for item in raw.split(",")]
    for position, item in enumerate((item for item in items if item), start=1):
        key_id, colon, text = item.partition(":")
        key_id, text = key_id.strip(), text.strip()
        if not colon or not key_id or not text:
            raise ValueError(f"item {position} is not of the form key_id:base64url-key")
        if not _KEY_ID.fullmatch(key_id):
            raise ValueError(f"item {position}: a key id must be 1 to 64 characters of A-Z a-z 0-9 . _ -")
        try:
            material = decode_key(text)
        except ValueError as exc:
            raise ValueError(f"key {key_id!r} {exc}") from None
        keys.append(Key(key_id, material))
    return Keyring.of(keys)


def generate_key() -> bytes:
    """32 random bytes for a new key."""
    return os.urandom(KEY_BYTES)


def _header(key_id: str) -> bytes:
    encoded = key_id.encode("ascii")
    return bytes([VERSION, len(encoded)]) + encoded


def key_id_of(sealed: bytes) -> str:
    """The id of the key a value was sealed under."""
    if len(sealed) < 2 or sealed[0] != VERSION:
        raise MalformedError("not a sealed value of a known version")
    length = sealed[1]
    if length == 0 or len(sealed) < 2 + length + NONCE_BYTES + TAG_BYTES:
        raise MalformedError("the sealed value is truncated")
    try:
        return sealed[2 : 2 + length].decode("ascii")
    except UnicodeDecodeError:
        raise MalformedError("the sealed value's key id is not ASCII") from None


def seal(keys: Keyring, plaintext: str, aad: bytes) -> bytes:
    """Encrypt ``plaintext`` under the ring's first key, bound to ``aad``."""
    return seal_bytes(keys, plaintext.encode("utf-8"), aad)


def unseal(keys: Keyring, sealed: bytes, aad: bytes) -> str:
    """Decrypt what :func:`seal` made with any key of the ring and the same ``aad``."""
    return unseal_bytes(keys, sealed, aad).decode("utf-8")


def seal_bytes(keys: Keyring, plaintext: bytes, aad: bytes) -> bytes:
    """Encrypt ``plaintext`` bytes under the ring's first key, bound to ``aad`` (same format as ``seal``)."""
    key = keys.primary
    header = _header(key.id)
    nonce = os.urandom(NONCE_BYTES)
    ciphertext = AESGCM(key.material).encrypt(nonce, bytes(plaintext), header + aad)
    return header + nonce + ciphertext


def unseal_bytes(keys: Keyring, sealed: bytes, aad: bytes) -> bytes:
    """Decrypt what :func:`seal_bytes` (or ``seal``) made with any key of the ring and the same ``aad``."""
    sealed = bytes(sealed)
    key_id = key_id_of(sealed)
    key = keys.find(key_id)
    if key is None:
        raise UnknownKeyError(key_id)
    header = _header(key_id)
    nonce = sealed[len(header) : len(header) + NONCE_BYTES]
    try:
        return AESGCM(key.material).decrypt(nonce, sealed[len(header) + NONCE_BYTES :], header + aad)
    except InvalidTag:
        raise TamperedError(key_id) from None
