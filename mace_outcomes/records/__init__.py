"""records room (see STYLE.md)."""
