"""Fonts that draw Chinese: find an installed CJK font, make matplotlib know it, warn once when there is none.

Link names and channels (微信, 小红书, ...) are often Chinese, and matplotlib's default font
(DejaVu Sans) has no CJK glyphs. :func:`font_families` returns the family list the plots use:
the user's ``font.family`` first (Latin text looks as configured), then a CJK family, which
matplotlib (>= 3.6) falls back to glyph by glyph.

matplotlib's font cache is built once and does not notice fonts installed later, so besides
the fonts it knows, :func:`find_cjk_font` asks fontconfig (``fc-list :lang=zh file``) and
looks in the usual folders, and registers what it finds with
``matplotlib.font_manager.fontManager.addfont``. Nothing here changes ``rcParams``; the
plotting functions apply the families to their own artists.
"""

from __future__ import annotations

import functools
import glob
import logging
import os
import re
import shutil
import subprocess
import warnings

__all__ = ["EMOJI_FAMILIES", "GLYPH_WARNING", "INSTALL_HINT", "PREFERRED_FAMILIES", "CJKFontWarning", "drawable",
           "find_cjk_font", "find_emoji_font", "font_families"]

logger = logging.getLogger("jmlink_analytics")

#: CJK-capable families, best first (Simplified Chinese faces before the others).
PREFERRED_FAMILIES: tuple[str, ...] = (
    "Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "Source Han Sans CN", "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei", "Microsoft YaHei", "SimHei", "PingFang SC", "Hiragino Sans GB", "Heiti SC", "STHeiti",
    "Sarasa Gothic SC", "Noto Sans CJK TC", "Noto Sans CJK JP", "Source Han Sans", "Droid Sans Fallback",
    "AR PL UMing CN", "AR PL UKai CN", "Arial Unicode MS",
)
#: Where CJK fonts usually live, when fontconfig is not there to ask.
_KNOWN_FILES: tuple[str, ...] = (
    "/usr/share/fonts/**/wqy-*.tt[cf]",
    "/usr/share/fonts/**/NotoSansCJK*.[ot]t[cf]",
    "/usr/share/fonts/**/NotoSansSC*.[ot]tf",
    "/usr/share/fonts/**/SourceHanSans*.[ot]t[cf]",
    "/usr/share/fonts/**/DroidSansFallback*.ttf",
    "~/.local/share/fonts/**/*.[ot]t[cf]",
    "~/.fonts/**/*.[ot]t[cf]",
    "/System/Library/Fonts/PingFang.ttc",
    "/System/Library/Fonts/STHeiti*.ttc",
    "/System/Library/Fonts/Hiragino Sans GB.ttc",
    "/Library/Fonts/Arial Unicode.ttf",
    "C:/Windows/Fonts/msyh.tt[cf]",
    "C:/Windows/Fonts/simhei.ttf",
)
#: Characters a font must draw to count as CJK-capable.
SAMPLE = "微信抖音"
INSTALL_HINT = (
    "install one, for example `sudo apt-get install fonts-wqy-microhei` or `fonts-noto-cjk` (Debian/Ubuntu), "
    "`sudo dnf install google-noto-sans-cjk-fonts` (Fedora), `brew install --cask font-noto-sans-cjk-sc` (macOS); "
    "Windows and macOS ship one (Microsoft YaHei, PingFang SC)"
)


class CJKFontWarning(UserWarning):
    """No CJK-capable font was found: Chinese labels will draw as empty boxes.

    Issued once per process; matplotlib's own per-character "Glyph ... missing" warnings are
    silenced after it.
    """


def _draws_sample(path: str) -> bool:
    """True when the font file at ``path`` has glyphs for the sample characters."""
    return _draws(path, SAMPLE)


def _fontconfig_files() -> list[str]:
    """Font files fontconfig lists as covering Chinese (empty without fontconfig)."""
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return []
    try:
        done = subprocess.run([fc_list, ":lang=zh", "file"], capture_output=True, text=True, timeout=10,
                              check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        logger.debug("fc-list failed: %s", exc)
        return []
    files = [line.strip().rstrip(":").strip() for line in done.stdout.splitlines()]
    return [f for f in files if f]


def _known_files() -> list[str]:
    found: list[str] = []
    for pattern in _KNOWN_FILES:
        found.extend(sorted(glob.glob(os.path.expanduser(pattern), recursive=True)))
    return found


def _pick(entries: list[tuple[str, str]]) -> str | None:
    """The best family among ``(name, file)`` entries that draws the sample."""
    by_name: dict[str, list[str]] = {}
    for name, path in entries:
        by_name.setdefault(name, []).append(path)
    for family in PREFERRED_FAMILIES:
        if any(_draws_sample(p) for p in by_name.get(family, ())):
            return family
    return None


@functools.lru_cache(maxsize=1)
def find_cjk_font() -> str | None:
    """The family name of an installed CJK-capable font, registered with matplotlib; None if there is none.

    Looks at the fonts matplotlib knows first, then at the files fontconfig lists for Chinese
    and at the usual font folders, adding those with ``fontManager.addfont``. The answer is
    cached for the process.
    """
    from matplotlib import font_manager

    manager = font_manager.fontManager
    family = _pick([(f.name, f.fname) for f in manager.ttflist])
    if family is not None:
        logger.debug("CJK font: %s (known to matplotlib)", family)
        return family
    known = {os.path.realpath(f.fname) for f in manager.ttflist}
    added: list[str] = []
    for path in dict.fromkeys([*_fontconfig_files(), *_known_files()]):
        if os.path.realpath(path) in known or not os.path.isfile(path) or not _draws_sample(path):
            continue
        try:
            manager.addfont(path)
        except (OSError, RuntimeError, ValueError) as exc:
            logger.debug("could not register font %s: %s", path, exc)
            continue
        known.add(os.path.realpath(path))
        added.append(path)
    entries = [(f.name, f.fname) for f in manager.ttflist if f.fname in added]
    family = _pick(entries) or next((name for name, _ in entries), None)
    if family is not None:
        logger.debug("CJK font: %s (registered from %s)", family, ", ".join(added))
    return family


#: matplotlib's warning for each character its font cannot draw (one per glyph: hundreds in a report).
GLYPH_WARNING = r"Glyph \d+ .*missing from (current )?font"


@functools.lru_cache(maxsize=1)
def _warn_missing() -> None:
    """Warn, once per process, that Chinese text cannot be drawn; silence matplotlib's per-glyph warnings.

    Without a CJK font matplotlib warns once for every Chinese character it draws ("Glyph
    24494 ... missing from font(s) DejaVu Sans"), hundreds in one report, burying the one
    warning that says what to do. Once that warning is out, a warnings filter drops those
    (only those) for the rest of the process.
    """
    warnings.warn(f"no CJK-capable font found: Chinese link names and channels will draw as empty boxes; "
                  f"{INSTALL_HINT}", CJKFontWarning, stacklevel=5)
    warnings.filterwarnings("ignore", message=GLYPH_WARNING, category=UserWarning)


def font_families() -> list[str]:
    """The font family list for a plot: ``rcParams["font.family"]``, then a CJK family when one is installed.

    Warns once (:class:`CJKFontWarning`) when no CJK font is found, and returns the
    configured families alone; plots still draw.
    """
    import matplotlib as mpl

    configured = mpl.rcParams["font.family"]
    base = [configured] if isinstance(configured, str) else list(configured)
    family = find_cjk_font()
    if family is None:
        _warn_missing()
        return base
    families = base if family in base else [*base, family]
    emoji = find_emoji_font()
    return families if emoji is None or emoji in families else [*families, emoji]


# -- emoji ------------------------------------------------------------------------------------
# Link names carry emoji ("🎉新人礼包"). matplotlib draws outline fonts only: a colour bitmap
# font such as Noto Color Emoji (Debian's fonts-noto-color-emoji) is refused by
# ``fontManager.addfont`` ("Non-scalable fonts are not supported"), so the fallback is a
# monochrome outline font (Debian's fonts-symbola). What no font of the list can draw is
# dropped from the label (see :func:`drawable`), so matplotlib never warns about a missing glyph.

#: Outline fonts with emoji glyphs, best first (colour bitmap fonts cannot be drawn by matplotlib).
EMOJI_FAMILIES: tuple[str, ...] = ("Noto Emoji", "Symbola", "Segoe UI Emoji", "Segoe UI Symbol", "OpenMoji")
_EMOJI_FILES: tuple[str, ...] = (
    "/usr/share/fonts/**/Symbola*.tt[cf]",
    "/usr/share/fonts/**/NotoEmoji-*.ttf",
    "C:/Windows/Fonts/seguiemj.ttf",
    "C:/Windows/Fonts/seguisym.ttf",
)
EMOJI_SAMPLE = "🎉🔥"
#: Code points that are emoji or emoji-joining marks (the blocks of Unicode's emoji charts).
_EMOJI_RANGES: tuple[tuple[int, int], ...] = (
    (0x200D, 0x200D), (0x20E3, 0x20E3), (0x2190, 0x21FF), (0x2300, 0x23FF), (0x2460, 0x24FF), (0x25A0, 0x27BF),
    (0x2900, 0x297F), (0x2B00, 0x2BFF), (0x3030, 0x3030), (0x303D, 0x303D), (0x3297, 0x3299),
    (0xFE00, 0xFE0F), (0x1F000, 0x1FAFF), (0xE0020, 0xE007F),
)
#: Zero-width marks of emoji sequences (variation selectors, joiner, tags): never drawn alone.
_JOINERS = frozenset([0x200D, 0x20E3, *range(0xFE00, 0xFE10), *range(0xE0020, 0xE0080)])


def _is_emoji(code: int) -> bool:
    return any(low <= code <= high for low, high in _EMOJI_RANGES)


def _draws(path: str, sample: str) -> bool:
    from matplotlib import ft2font

    try:
        font = ft2font.FT2Font(path)
        return all(font.get_char_index(ord(ch)) for ch in sample)
    except (OSError, RuntimeError, ValueError):
        return False


@functools.lru_cache(maxsize=1)
def find_emoji_font() -> str | None:
    """The family name of an installed outline emoji font, registered with matplotlib; None if there is none.

    Looks at the fonts matplotlib knows, then at the usual folders (Debian's fonts-symbola:
    ``/usr/share/fonts/truetype/ancient-scripts/Symbola_hint.ttf``). Cached for the process.
    """
    from matplotlib import font_manager

    manager = font_manager.fontManager
    for family in EMOJI_FAMILIES:
        if any(f.name == family and _draws(f.fname, EMOJI_SAMPLE) for f in manager.ttflist):
            return family
    known = {os.path.realpath(f.fname) for f in manager.ttflist}
    for pattern in _EMOJI_FILES:
        for path in sorted(glob.glob(os.path.expanduser(pattern), recursive=True)):
            if os.path.realpath(path) in known or not _draws(path, EMOJI_SAMPLE):
                continue
            try:
                manager.addfont(path)  # a bitmap (colour) font raises NotImplementedError, a RuntimeError
            except (OSError, RuntimeError, ValueError) as exc:
                logger.debug("could not register font %s: %s", path, exc)
                continue
            name = next(f.name for f in manager.ttflist if os.path.realpath(f.fname) == os.path.realpath(path))
            logger.debug("emoji font: %s (registered from %s)", name, path)
            return name
    return None


@functools.lru_cache(maxsize=8)
def _coverage(families: tuple[str, ...]) -> frozenset[int]:
    """The emoji code points some font of ``families`` draws (their character maps, emoji blocks only)."""
    from matplotlib import font_manager, ft2font

    covered: set[int] = set()
    for family in families:
        try:
            path = font_manager.findfont(font_manager.FontProperties(family=family), fallback_to_default=False)
        except ValueError:
            continue
        try:
            covered.update(code for code in ft2font.FT2Font(path).get_charmap() if _is_emoji(code))
        except (OSError, RuntimeError, ValueError):
            continue
    return frozenset(covered)


def drawable(text: str, families: list[str] | None = None) -> str:
    """``text`` without the emoji no font of ``families`` can draw (and without emoji joining marks).

    Other characters are kept (Chinese without a CJK font is :class:`CJKFontWarning`'s
    concern). Spaces left doubled or at the ends by a dropped emoji are tidied.

    >>> drawable("launch \u200d", ["DejaVu Sans"])
    'launch'
    """
    if text.isascii():
        return text
    covered = _coverage(tuple(font_families() if families is None else families))
    kept = [ch for ch in text if not _is_emoji(ord(ch)) or (ord(ch) in covered and ord(ch) not in _JOINERS)]
    if len(kept) == len(text):
        return text
    return re.sub(r"  +", " ", "".join(kept)).strip()
