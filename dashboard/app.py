"""Entry script: page config, the shared sidebar, and routing. Run: streamlit run dashboard/app.py"""

import sys
from pathlib import Path

# `streamlit run dashboard/app.py` puts dashboard/ on sys.path, not the project root.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import streamlit as st  # noqa: E402

from dashboard import safe, sidebar  # noqa: E402
from dashboard.sections import presenter  # noqa: E402

st.set_page_config(page_title="Teacher vs student: BERT and DistilBERT", page_icon="⚗️", layout="wide")

VIEWS = Path(__file__).parent / "views"
pages = [
    st.Page(VIEWS / "playground.py", title="Playground", icon=":material/chat:", default=True),
    st.Page(VIEWS / "benchmarks.py", title="Benchmarks", icon=":material/speed:"),
    st.Page(VIEWS / "attention.py", title="Attention", icon=":material/grid_view:"),
    st.Page(VIEWS / "explain.py", title="Explain", icon=":material/psychology:"),
    st.Page(VIEWS / "distillation.py", title="Distillation", icon=":material/science:"),
    st.Page(VIEWS / "decide.py", title="Decide", icon=":material/fact_check:"),
]
present = presenter.active()
navigation = st.navigation(pages, position="top" if present else "sidebar")

if present:
    presenter.style()
    sidebar.select_pair(fixed=True)
    st.session_state.setdefault("device_name", "cpu")
else:
    st.sidebar.title("Teacher vs student")
    sidebar.select_pair()
    sidebar.select_device()
    sidebar.storage_note()
safe.guard_lone_surrogates()
navigation.run()
