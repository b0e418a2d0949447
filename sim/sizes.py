"""The one size parser of the project.

Cache and memory sizes use binary units: "56MB", "56MiB", "56m" and "56M" all mean
56 * 2**20 bytes, and a bare integer ("58720256") is a byte count. Accepted
suffixes (case-insensitive): B, K/KB/KiB, M/MB/MiB, G/GB/GiB, T/TB/TiB.
Fractions are allowed when they give a whole number of bytes ("1.5MB").
"""

from __future__ import annotations

import re

_UNITS = {"": 0, "k": 1, "m": 2, "g": 3, "t": 4}
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b)?\s*$", re.IGNORECASE)

SIZE_HELP = 'binary units: "56MB" = "56MiB" = "56m" = 58720256 bytes'


def parse_size(text: str | int) -> int:
    """Parse a size such as "56MB" into bytes (binary units); ValueError names the input."""
    if isinstance(text, bool):
        raise ValueError(f"size {text!r}: expected a number of bytes or a string such as '56MB'")
    if isinstance(text, int):
        if text <= 0:
            raise ValueError(f"size {text}: must be a positive number of bytes")
        return text
    match = _SIZE_RE.match(str(text))
    if not match:
        raise ValueError(
            f"size {text!r}: expected a number with an optional unit B, KB, MB, GB, TB "
            f"(also KiB/MiB/GiB or k/m/g; {SIZE_HELP})"
        )
    number, unit, suffix = match.groups()
    if suffix and suffix.lower() == "ib" and not unit:
        raise ValueError(f"size {text!r}: 'iB' needs a prefix (KiB, MiB, GiB, TiB)")
    scaled = float(number) * (1024 ** _UNITS[unit.lower()])
    if scaled != int(scaled):
        raise ValueError(f"size {text!r}: is not a whole number of bytes")
    if int(scaled) <= 0:
        raise ValueError(f"size {text!r}: must be positive")
    return int(scaled)


def format_size(num_bytes: int) -> str:
    """Render bytes with the largest binary unit that divides them exactly ("56MiB"), else in bytes."""
    for power, unit in ((4, "TiB"), (3, "GiB"), (2, "MiB"), (1, "KiB")):
        scale = 1024**power
        if num_bytes >= scale and num_bytes % scale == 0:
            return f"{num_bytes // scale}{unit}"
    return f"{num_bytes}B"
