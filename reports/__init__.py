"""Result tables, figures, markdown reports and run comparisons."""
