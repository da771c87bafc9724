"""Showing visitor-controlled text (URL parameters, model ids, file names, sentences, labels) on a page.

Streamlit renders Markdown, LaTeX ($…$), colour directives (:red[…]), HTML-looking text and links in every
message, caption and widget label. `text()` makes such text inert: every ASCII punctuation character is
backslash-escaped (CommonMark allows that for all of them), so no link, image, directive, formula or tag
can form. Bare URLs and e-mail addresses are linked later, from the parsed text where escapes are gone, so
an invisible word joiner (U+2060) also goes after each ':' and '@' and inside 'www.'.
"""

from __future__ import annotations

import re
import string

import streamlit as st

from benchmarks.core.paths import scrub

_PUNCTUATION = re.compile("([" + re.escape(string.punctuation) + "])")
_LINE_BREAKS = re.compile(r"[\r\n\t\v\f\u2028\u2029]+")
_AUTOLINK_START = re.compile(r"(:|@|(?i:www)(?=\\\.))")
_JOINER = "\u2060"


def text(value: object) -> str:
    """`value` as literal text inside Streamlit Markdown, on one line."""
    flat = _LINE_BREAKS.sub(" ", str(value))
    return _AUTOLINK_START.sub(r"\1" + _JOINER, _PUNCTUATION.sub(r"\\\1", flat))



def message(error: object) -> str:
    """An error for the page: absolute paths that library messages quote made relative, then text()."""
    return text(scrub(str(error)))


# Streamlit sends widget text as protobuf UTF-8; a lone UTF-16 surrogate (half an emoji, pasted or typed)
# cannot be encoded, and the value reaches the server empty. This page-wide listener runs before
# Streamlit's (capture phase) and replaces such halves with U+FFFD, the way Python's own decoders do. The
# native setter keeps React's change tracking, so Streamlit still sees the edit.
_SURROGATE_GUARD = """<script>
if (!window.kdSurrogateGuard) {
  window.kdSurrogateGuard = true;
  document.addEventListener("input", (event) => {
    const box = event.target;
    if (!(box instanceof HTMLInputElement || box instanceof HTMLTextAreaElement) || box.value.isWellFormed()) return;
    const at = box.selectionStart;
    Object.getOwnPropertyDescriptor(Object.getPrototypeOf(box), "value").set.call(box, box.value.toWellFormed());
    box.setSelectionRange(at, at);
  }, true);
}
</script>"""


def guard_lone_surrogates() -> None:
    """Install the listener above in this browser tab (once; later calls are no-ops in the page). In the
    sidebar, where the empty element's spacing goes unnoticed."""
    st.sidebar.html(_SURROGATE_GUARD, unsafe_allow_javascript=True)
