"""survival room (see STYLE.md)."""
