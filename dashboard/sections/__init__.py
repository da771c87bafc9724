"""Sections of pages too long for one page file: each module renders one part of one page (Streamlit here);
the page in views/ composes them. Library code stays in benchmarks/, figures in charts/."""
