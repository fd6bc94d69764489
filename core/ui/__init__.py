"""Gradio pieces of the app: one module per tab plus shared helpers.

``app.py`` assembles the tabs; each tab module exposes ``build(registry)``, called
inside the tab's ``gr.Tab`` context. Tab modules turn UI values into calls of
``core.pipeline`` and never reach into plugins directly.
"""
