"""Sans-I/O decoder for keyboard-wedge badge readers: input events in, typed badge text out.

A wedge reader is a USB keyboard that types the badge id and presses Enter (or Tab: both end
an id, since neither is ever part of one; a reader set to send no suffix at all delivers
nothing, because a finished id cannot be told from a half-read one, and its partial ids are
counted as gap drops, which ``doctor`` turns into advice). Reading its
evdev events directly (rather than the console's characters) keeps the host's keymap out
of the way: the reader's layout is a setting (:class:`~hardware.settings.KeyLayout`) and
Shift is tracked here. The decoder drops a partial id when keys stop for longer than a
reader ever pauses (a person typing, a half-read card), ignores key repeats, and forgets a
partial id when the device is unplugged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Protocol

from evdev import ecodes

from hardware.badge_health import DropCounts
from hardware.settings import KeyLayout

# Longer than any badge id any encoding produces (10 bytes as colon-separated hex is 29).
MAX_TYPED_LENGTH = 40

_SHIFT_KEYS = frozenset({ecodes.KEY_LEFTSHIFT, ecodes.KEY_RIGHTSHIFT})
# Readers end an id with Enter by default; many can be set to Tab (for form filling).
_TERMINATORS = frozenset({ecodes.KEY_ENTER, ecodes.KEY_KPENTER, ecodes.KEY_TAB})
# Keys that never type anything and may be sent by a reader around an id.
_SILENT_KEYS = frozenset(
    {
        ecodes.KEY_LEFTCTRL,
        ecodes.KEY_RIGHTCTRL,
        ecodes.KEY_LEFTALT,
        ecodes.KEY_RIGHTALT,
        ecodes.KEY_LEFTMETA,
        ecodes.KEY_RIGHTMETA,
        ecodes.KEY_CAPSLOCK,
        ecodes.KEY_NUMLOCK,
    }
)

_KEY_DOWN = 1
_KEY_REPEAT = 2
_KEY_UP = 0


def _letters(swaps: Mapping[str, str]) -> dict[int, tuple[str, str]]:
    """Letter keys by physical position; badge ids are case-insensitive, so both states agree."""
    keys: dict[int, tuple[str, str]] = {}
    for letter in "ABCDEFGHIJKLMNOPQRSTUVWXYZ":
        typed = swaps.get(letter, letter)
        keys[getattr(ecodes, f"KEY_{letter}")] = (typed, typed)
    return keys


def _keypad() -> dict[int, tuple[str, str]]:
    keys = {getattr(ecodes, f"KEY_KP{d}"): (str(d), str(d)) for d in range(10)}
    keys[ecodes.KEY_KPMINUS] = ("-", "-")
    keys[ecodes.KEY_KPDOT] = (".", ".")
    keys[ecodes.KEY_KPSLASH] = ("/", "/")
    return keys


_NUMBER_ROW = [getattr(ecodes, f"KEY_{d}") for d in "1234567890"]

_US: dict[int, tuple[str, str]] = {
    **_letters({}),
    **_keypad(),
    **{
        key: (digit, shifted)
        for key, digit, shifted in zip(_NUMBER_ROW, "1234567890", "!@#$%^&*()", strict=True)
    },
    ecodes.KEY_MINUS: ("-", "_"),
    ecodes.KEY_SEMICOLON: (";", ":"),
    ecodes.KEY_COMMA: (",", "<"),
    ecodes.KEY_DOT: (".", ">"),
    ecodes.KEY_SLASH: ("/", "?"),
    ecodes.KEY_SPACE: (" ", " "),
}

# AZERTY: digits are the Shift layer of the number row; A/Q and Z/W swap, M sits right of L.
_FR: dict[int, tuple[str, str]] = {
    **_letters({"A": "Q", "Q": "A", "Z": "W", "W": "Z"}),
    **_keypad(),
    **{
        key: (plain, digit)
        for key, plain, digit in zip(_NUMBER_ROW, "&é\"'(-è_çà", "1234567890", strict=True)
    },
    ecodes.KEY_SEMICOLON: ("M", "M"),
    ecodes.KEY_M: (",", "?"),
    ecodes.KEY_COMMA: (";", "."),
    ecodes.KEY_DOT: (":", "/"),
    ecodes.KEY_SLASH: ("!", "§"),
    ecodes.KEY_SPACE: (" ", " "),
}

KEYMAPS: Mapping[KeyLayout, Mapping[int, tuple[str, str]]] = {
    KeyLayout.US: _US,
    KeyLayout.FR: _FR,
}


class InputEventLike(Protocol):
    """The fields of ``evdev.InputEvent`` the decoder reads."""

    sec: int
    usec: int
    type: int
    code: int
    value: int


@dataclass(frozen=True, slots=True)
class TypedBadge:
    """One id the reader typed, ended by Enter or Tab."""

    text: str
    """The characters under the configured layout."""
    keys: tuple[tuple[int, bool], ...]
    """(key code, shift held) for each character, to re-read under another layout when
    the text does not fit the badge rules (a reader set up for AZERTY, say)."""


@dataclass(slots=True)
class WedgeDecoder:
    """Feed it key events; it returns a :class:`TypedBadge` when one is complete."""

    layout: KeyLayout = KeyLayout.US
    inter_key_timeout_s: float = 0.2
    drops: DropCounts = field(default_factory=DropCounts)
    _keys: list[tuple[int, bool]] = field(default_factory=list, init=False)
    _shift_down: set[int] = field(default_factory=set, init=False)
    _last_key_at: float = field(default=0.0, init=False)
    # After a key no badge contains, the rest of that id is noise too: skip to its end or a gap.
    _skipping: bool = field(default=False, init=False)

    def feed(self, event: InputEventLike) -> TypedBadge | None:
        """Take one input event; return the badge it completes, if any."""
        if event.type != ecodes.EV_KEY:
            return None  # EV_SYN, EV_MSC scan codes, LEDs: nothing to decode
        code, value = event.code, event.value
        if code in _SHIFT_KEYS:
            if value == _KEY_UP:
                self._shift_down.discard(code)
            else:
                self._shift_down.add(code)
            return None
        if value != _KEY_DOWN:
            return None  # key up, or autorepeat from a key held down
        at = event.sec + event.usec / 1_000_000
        if at - self._last_key_at > self.inter_key_timeout_s:
            if self._keys:
                self.drops = replace(self.drops, gap=self.drops.gap + 1)
                self._keys.clear()
            self._skipping = False
        self._last_key_at = at
        if code in _TERMINATORS:
            if self._skipping:
                self._skipping = False
                return None
            return self._complete()
        if code in _SILENT_KEYS or self._skipping:
            return None
        if code not in KEYMAPS[self.layout]:
            if self._keys:
                self.drops = replace(self.drops, garbage=self.drops.garbage + 1)
                self._keys.clear()
                self._skipping = True
            return None
        if len(self._keys) >= MAX_TYPED_LENGTH:
            self.drops = replace(self.drops, too_long=self.drops.too_long + 1)
            self._keys.clear()
            self._skipping = True
            return None
        self._keys.append((code, bool(self._shift_down)))
        return None

    def device_lost(self) -> None:
        """The device went away (unplugged, USB reset): forget the half-typed id and Shift."""
        if self._keys:
            self.drops = replace(self.drops, unplugged=self.drops.unplugged + 1)
        self._keys.clear()
        self._shift_down.clear()
        self._skipping = False

    def _complete(self) -> TypedBadge | None:
        if not self._keys:
            return None  # a lone Enter or Tab: a human at a keyboard, or a reader's blank line
        keys = tuple(self._keys)
        self._keys.clear()
        return TypedBadge(text=type_keys(keys, self.layout), keys=keys)


def type_keys(keys: tuple[tuple[int, bool], ...], layout: KeyLayout) -> str:
    """The characters the keys type under ``layout``."""
    keymap = KEYMAPS[layout]
    return "".join(
        keymap[code][1 if shift else 0] if code in keymap else "?" for code, shift in keys
    )
