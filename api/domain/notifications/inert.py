"""What text of someone else may appear in a mail the service sends on its own.

An inquiry is posted with a key that lives in a website's JavaScript, so anyone can make the service
mail any address (the acknowledgement). Such mail carries no text of the sender beyond what is inert:
it cannot hold a link, an address, a number to call or any instruction longer than a name.

- ``name``: a person's name is shown only when it looks like one: 1 to 60 characters in at most five
  words of letters (any script) and combining marks, with single hyphens and apostrophes inside words
  and a full stop only after a letter and before a space or the end ("J. R. Smith"). No digits, no
  ``@ : / . ,`` elsewhere, no symbols: "Ada. URGENT verify at https://phish.example/login" is not a
  name, and the mail then greets "Hello,".
- ``plain``: every text of a mail (subject, display names and body) loses bidirectional control
  characters (U+061C, U+200E, U+200F, U+202A-U+202E, U+2066-U+2069), which could make it read
  otherwise than it is written.
"""

from __future__ import annotations

import re
import unicodedata

MAX_NAME = 60
MAX_WORDS = 5

BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069",
)
_BIDI = re.compile("[" + "".join(sorted(BIDI_CONTROLS)) + "]")
_JOINERS = frozenset("-'\u2019")


def plain(text: str) -> str:
    """``text`` without bidirectional control characters."""
    return _BIDI.sub("", text)


def _letter(char: str) -> bool:
    return unicodedata.category(char)[0] in ("L", "M")


def _word(word: str) -> bool:
    """Letters, with single joiners between letters and an optional full stop after the last letter."""
    body = word[:-1] if word.endswith(".") else word
    if not body or not _letter(body[0]) or not _letter(body[-1]):
        return False
    previous_joiner = False
    for char in body:
        if _letter(char):
            previous_joiner = False
        elif char in _JOINERS and not previous_joiner:
            previous_joiner = True
        else:
            return False
    return True


def name(value: object) -> str | None:
    """``value`` when it is an inert personal name (see the module's rules), normalised; else None."""
    if not isinstance(value, str):
        return None
    words = unicodedata.normalize("NFC", value).split()
    shown = " ".join(words)
    if not words or len(words) > MAX_WORDS or len(shown) > MAX_NAME:
        return None
    return shown if all(_word(word) for word in words) else None
