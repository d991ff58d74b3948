"""HTML as the gate reads and writes it: the tokenizer's grammar (`grammar`), what one tag
loads (`tags`), the streaming rewriter that holds refused trackers back (`rewriter`), CSS
`url()`s (`stylesheets`) and where the gate's own markup goes (`inject`). Nothing outside this
package reads the patterns: it sees the rewriter and the injectors.
"""

from .inject import BodyEndInjector, HeadStartInjector
from .rewriter import MAX_INLINE_SCRIPT, HtmlRewriter, Placeholder

__all__ = [
    "MAX_INLINE_SCRIPT",
    "BodyEndInjector",
    "HeadStartInjector",
    "HtmlRewriter",
    "Placeholder",
]
