"""The streamed Markdown cap (the scan report's, written a section at a time) cuts exactly where
:func:`cap_markdown` cuts the whole text and names the same left-out sections, and leaves text that fits alone."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.output.markdown_cap import CappedMarkdown, cap_markdown

ROW = st.text(alphabet="abc xyz|-#", min_size=0, max_size=120).map(lambda text: text.replace("\n", " "))


def section(name: str, rows: list[str]) -> str:
    return f"### {name}\n\n| state | reason |\n|---|---|\n" + "".join(f"| NonCompliant | {row} |\n" for row in rows) + "\n"


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(ROW, min_size=0, max_size=8), min_size=0, max_size=400), st.integers(2_000, 70_000))
def test_streamed_cap_equals_the_whole_texts_cap(sections: list[list[str]], limit: int) -> None:
    head = "# Compliance report\n\n## Per cluster\n\n"
    chunks = [head, *(section(f"cluster-{index}", rows) for index, rows in enumerate(sections))]
    capped = CappedMarkdown("the JSON", limit)
    for chunk in chunks:
        capped.add(chunk)
    assert capped.text() == cap_markdown("".join(chunks), "the JSON", limit)
