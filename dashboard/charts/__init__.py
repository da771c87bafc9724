"""Plotly figure builders for the pages, one module per page or concept. Pure functions: data in, figure out;
no Streamlit here."""
