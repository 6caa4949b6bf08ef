"""The course: one module per notebook."""
