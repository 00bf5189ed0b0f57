"""Prospect Scoring Studio: routing only. Each page lives in screens/.

Not pages/: Streamlit runs files in a pages/ folder beside this script on their own (old-style pages)
until `st.navigation` has run once in the process, so a deep link right after a restart would skip
this router, its workspace and its sidebar. Any other folder is reached only through here."""

import streamlit as st

from prospect_core.studio import account_panel, open_workspace, render_sidebar, sign_in_page, signed_in

st.set_page_config(page_title="Prospect Scoring Studio", page_icon=":material/target:", layout="wide")
if not signed_in():  # auth is on: a signed-out visitor gets the sign-in screen and nothing else
    st.navigation([sign_in_page()], position="hidden").run()
    st.stop()

page = st.navigation(
    [
        st.Page("screens/data_and_target.py", title="Data & target", icon=":material/database:", default=True),
        st.Page("screens/train.py", title="Train", icon=":material/model_training:"),
        st.Page("screens/evaluate.py", title="Evaluate", icon=":material/monitoring:"),
        st.Page("screens/explain.py", title="Explain", icon=":material/psychology:"),
        st.Page("screens/score_and_export.py", title="Score & export", icon=":material/download:"),
    ]
)
account_panel()  # who is signed in, and Sign out (auth only)
open_workspace()  # the workspace in the URL; a new session gets its saved runs back (its user's only)
sidebar = st.sidebar.empty()
render_sidebar(sidebar)  # what the session had: it stays if the page stops early (st.stop)
page.run()
# Drawn again after the page, so it shows what the page just set. Not in a `finally`: a page that
# reruns or stops raises through here, and what is drawn then is thrown away, with any note it showed.
render_sidebar(sidebar)
