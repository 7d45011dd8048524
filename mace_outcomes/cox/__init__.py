"""cox room (see STYLE.md)."""
