"""The application layer on top of the library: CLI, demo, evaluation, pictures and files."""
