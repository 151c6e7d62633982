"""Every synthetic screen the tests and benchmarks use, rendered in one place.

- `desktop`: procedural 1080p desktops (no fonts, fast), optionally with a terminal of real text;
- `canvas`: the bare `terminal()` for OCR tests, a text `Canvas`, and whole app frames;
- `layouts`, `corpus`, `secret_screens`: seeded text-heavy screens with planted words, and secrets;
- `sequences`: a screen changing a little per step (changed-region OCR);
- `fonts`, `vocabulary`: the DejaVu faces and the words all of them are drawn with.
"""

from tests.support.screens.canvas import terminal, words

__all__ = ["terminal", "words"]
