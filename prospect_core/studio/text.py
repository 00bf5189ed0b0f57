"""Text from users, files and links, made to read as itself where Streamlit renders Markdown.

Streamlit renders Markdown in `st.markdown`, captions, subheaders, info/warning/error/success boxes,
`st.write`, expander and status labels, widget labels and help tooltips. An event name, an attribute
label, a file name, or an error echoing one, shown there as is could plant a link, an image (which
the viewer's browser fetches), colours or icons. Every such piece goes through `plain` first.
"""

from __future__ import annotations

import re

# Markdown's own syntax: a backslash makes any ASCII punctuation literal (CommonMark). An `_` between
# two letters or digits can start no emphasis, so names like num_sessions_l7d stay as they are.
_SYNTAX = re.compile(r"[\\`*~$\[\]<>#|&]|(?<![^\W_])_|_(?![^\W_])")
# List, heading-underline and rule markers count only at the start of a line.
_LINE_START = re.compile(r"^([ \t]*)([-+=]|\d+[.)])", re.MULTILINE)
# Autolinks (https://…, www.…, a@b.c), Material icons (:material/…:), emoji (:smile:) and colour
# directives are found in the parsed text, where backslashes are gone: an invisible word joiner
# (U+2060) after the `:`, the `www` or the `@` keeps them from matching.
_PARSED_TEXT_PATTERNS = re.compile(r"(?<=:)(?=\S)|(?<=www)(?=\.)|(?<=@)")
WORD_JOINER = "\u2060"


def plain(value: object) -> str:
    """`value` as text, for anywhere Streamlit renders Markdown: it shows as typed, with no link,
    image, HTML, emphasis, heading, table, math, colour or icon."""
    text = _SYNTAX.sub(lambda match: "\\" + match[0], str(value))
    text = _LINE_START.sub(lambda match: f"{match[1]}{match[2][:-1]}\\{match[2][-1]}", text)
    return _PARSED_TEXT_PATTERNS.sub(WORD_JOINER, text)
