"""Impasto: an interactive art-image studio (Gradio Blocks app).

    python app.py [--host 127.0.0.1] [--port 7860] [--share]

The four tabs are built from what the plugin registry holds; nothing loads a
model until a job needs it, except the prompt encoder every built-in generator
shares and the default generator, which load in the background once the app is serving.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
import threading

import gradio as gr

from core import __version__, limits
from core.registry import Registry, get_registry
from core.ui import fairness, sharing, studio
from core.ui.common import EXAMPLE_DIRS
from core.ui import analyze_tab, api, generate_tab, plugins_tab, stylize_tab, transfer_tab

TITLE = "Impasto"
DESCRIPTION = ("Type a prompt, pick a style, and finish the picture: generate, analyse, "
               "transfer and stylize art images.")
QUEUE_SIZE = int(os.environ.get("IMPASTO_QUEUE_SIZE", "64"))
MODEL_JOBS_AT_ONCE = 1   # one job on the shared device at a time
# System fonts only: the default theme fetches web fonts, which fails offline and
# tells a third party who opened the app.
_SYSTEM_FONTS = ["ui-sans-serif", "system-ui", "Segoe UI", "Roboto", "sans-serif"]
THEME = gr.themes.Soft(primary_hue="orange", secondary_hue="violet", font=_SYSTEM_FONTS,
                       font_mono=["ui-monospace", "Consolas", "monospace"])


def build_app(registry: Registry | None = None) -> gr.Blocks:
    registry = registry or get_registry()
    gr.set_static_paths(paths=[str(folder) for folder in EXAMPLE_DIRS])
    # Temp files of finished jobs are deleted once an hour when older than an hour,
    # so a day of traffic cannot fill the disk.
    ttl = limits.CACHE_TTL_S
    with gr.Blocks(title=TITLE, delete_cache=(ttl, ttl)) as demo:
        gr.Markdown(f"# {TITLE}\n{DESCRIPTION}")
        with gr.Tabs() as tabs:
            with gr.Tab("Generate", id="generate"):
                generate = generate_tab.build(registry)
            with gr.Tab("Analyze", id="analyze"):
                analyze = analyze_tab.build(registry)
            with gr.Tab("Transfer", id="transfer"):
                transfer = transfer_tab.build(registry)
            with gr.Tab("Stylize", id="stylize"):
                stylize = stylize_tab.build(registry)
            with gr.Tab("Plugins", id="plugins"):
                plugins_tab.build(registry)
        studio.connect(tabs, generate, analyze, transfer, stylize)
        api.build(registry)
        gr.Markdown(f"<small>Impasto {__version__}</small>")
    demo.queue(max_size=QUEUE_SIZE, default_concurrency_limit=MODEL_JOBS_AT_ONCE)
    fairness.limit_jobs_per_client(demo, limits.MAX_JOBS_PER_CLIENT)
    return demo


def warm_up(registry: Registry | None = None) -> threading.Thread:
    """Load the prompt encoder and warm the default generator up (the Transformer loads
    its weights and starts the processes it draws with) on a background thread,
    and return the thread. A cold encoder load takes about 4 s on a CPU, most of it
    transformers importing its modelling code, so the first Generate would wait for it.
    A failure is only logged here; the first job that needs the model reports it."""
    def load() -> None:
        try:
            from core.pipeline import DEFAULT_BACKEND
            from core.text_encoder import get_encoder    # imports torch: kept off the start path

            generator = (registry or get_registry()).generators.get(DEFAULT_BACKEND)
            warm = getattr(generator, "warm_up", lambda wait: None)
            warm(wait=False)     # the Transformer's drawing process loads on the other core meanwhile
            get_encoder()
            warm(wait=True)
        except Exception:     # noqa: BLE001 - the first job reports it clearly
            logging.getLogger(__name__).warning("could not warm the models up", exc_info=True)

    thread = threading.Thread(target=load, name="impasto-warm-up", daemon=True)
    thread.start()
    return thread


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=DESCRIPTION)
    parser.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", "7860")))
    parser.add_argument("--share", action="store_true",
                        help="also make a public gradio.live link (needs --auth or --auth-file)")
    parser.add_argument("--auth", action="append", metavar="USER:PASS",
                        help="require this login (repeatable); IMPASTO_AUTH works too")
    parser.add_argument("--auth-file", metavar="PATH", help="a file of user:pass lines")
    parser.add_argument("--share-without-auth", action="store_true",
                        help="make a public link that ANYONE who finds it can use (not recommended)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    try:
        plan = sharing.plan_launch(args, os.environ)
    except sharing.LaunchRefused as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    demo = build_app()
    demo.launch(server_name=plan.host, server_port=args.port, share=plan.share, auth=plan.auth,
                auth_message="Impasto: sign in with the credentials you were given.",
                theme=THEME, max_file_size=limits.MAX_IMAGE_BYTES, show_error=False,
                prevent_thread_lock=True)
    # The app is serving; load the prompt encoder every built-in generator shares, and
    # the default generator, while the first visitor is still typing (IMPASTO_WARM_UP=0:
    # only when a job needs them).
    if os.environ.get("IMPASTO_WARM_UP", "1") != "0":
        warm_up()
    demo.block_thread()
    return 0


if __name__ == "__main__":
    sys.exit(main())
