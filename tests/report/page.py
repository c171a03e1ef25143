"""Reading a rendered report back: what it would load, and its text, with the standard library's HTML parser."""

from __future__ import annotations

import re
from html.parser import HTMLParser

# Attributes through which a page can make a browser fetch something.
URL_ATTRIBUTES = frozenset(
    {"src", "href", "xlink:href", "srcset", "action", "formaction", "poster", "data", "background", "ping", "manifest"}
)
FETCHING_TAGS = frozenset({"script", "link", "img", "iframe", "frame", "object", "embed", "audio", "video", "source"})
CSS_FETCH = re.compile(r"url\s*\(|@import", re.IGNORECASE)


class Page(HTMLParser):
    """The tags, attribute URLs, style text, marks and text of one page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.urls: list[str] = []
        self.styles: list[str] = []
        self.marks: list[str] = []
        self.text: list[str] = []
        self._in: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self._in.append(tag)
        for name, value in attrs:
            if name in URL_ATTRIBUTES and value is not None:
                self.urls.append(value)
            if name == "style" and value:
                self.styles.append(value)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        self._in.pop()

    def handle_endtag(self, tag: str) -> None:
        if tag in self._in:
            while self._in.pop() != tag:
                pass

    def handle_data(self, data: str) -> None:
        if "style" in self._in:
            self.styles.append(data)
        if "mark" in self._in:
            self.marks.append(data)
        self.text.append(data)

    def external_loads(self) -> list[str]:
        """Everything the page would fetch: any fetching tag, any URL that is not an in-page anchor, any CSS
        url() or @import."""
        found = [f"<{tag}>" for tag in self.tags if tag in FETCHING_TAGS]
        found += [url for url in self.urls if not url.startswith("#")]
        found += [style for style in self.styles if CSS_FETCH.search(style)]
        return found

    @property
    def all_text(self) -> str:
        return " ".join(" ".join(self.text).split())


def parse(html: str) -> Page:
    page = Page()
    page.feed(html)
    page.close()
    return page
