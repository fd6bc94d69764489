"""Turning a plugin's parameter schema into Gradio controls, and UI plumbing
shared by the tabs (errors as gr.Error, progress bars)."""
from __future__ import annotations

import functools
import logging
import threading
from typing import Any, Callable, Sequence

import gradio as gr

from core.errors import JobError, UserError
from core.hookspecs import ProgressFn
from core.params import Param

log = logging.getLogger(__name__)


def control_for(param: Param, **extra: Any) -> gr.components.Component:
    """One Gradio component for one parameter, with its default, bounds and help."""
    common = dict(label=param.title, info=param.help or None, **extra)
    if param.type in ("int", "float"):
        if param.min is not None and param.max is not None:
            step = param.step or (1 if param.type == "int" else (param.max - param.min) / 100)
            return gr.Slider(minimum=param.min, maximum=param.max, step=step,
                             value=param.default, **common)
        return gr.Number(value=param.default, precision=0 if param.type == "int" else None,
                         minimum=param.min, maximum=param.max, **common)
    if param.type == "bool":
        return gr.Checkbox(value=param.default, **common)
    if param.type == "choice":
        return gr.Dropdown(choices=list(param.choices), value=param.default, **common)
    if param.type == "color":
        return gr.ColorPicker(value=param.default, **common)
    if param.type == "colors":
        return gr.Textbox(value=",".join(param.default), placeholder="#e53935,#1e88e5", **common)
    return gr.Textbox(value=param.default, max_length=param.max_length, **common)


def build_controls(params: Sequence[Param], **extra: Any) -> list[gr.components.Component]:
    return [control_for(p, **extra) for p in params]


def values_to_params(params: Sequence[Param], values: Sequence[Any]) -> dict[str, Any]:
    """The raw values of ``build_controls``' components, keyed by parameter name.
    Validation happens in core.pipeline, where the CLI and API go through too."""
    return {p.name: v for p, v in zip(params, values)}


def user_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Show UserError / JobError as a one-line gr.Error; log anything else and
    show a short message instead of a stack trace. The app keeps serving."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except (UserError, JobError) as exc:
            raise gr.Error(str(exc), print_exception=False) from None
        except Exception as exc:  # noqa: BLE001 - never show a traceback to a visitor
            log.exception("unexpected error in %s", fn.__name__)
            raise gr.Error(f"Something went wrong ({type(exc).__name__}); the details are in "
                           "the server log.", print_exception=False) from None

    return wrapper


class Stops:
    """Per-session "Stop" flags. A job takes a fresh flag when it starts; the Stop
    button sets it; the job's next progress report then raises, the plugin's call
    unwinds and the device lock is released for the next job. (Cancelling the
    Gradio event alone would only stop waiting: the worker thread and the lock
    would live on until the plugin finished.)"""

    def __init__(self) -> None:
        self._flags: dict[str, threading.Event] = {}
        self._lock = threading.Lock()

    def start(self, request: gr.Request | None) -> threading.Event:
        flag = threading.Event()
        with self._lock:
            self._flags[_session(request)] = flag
        return flag

    def stop(self, request: gr.Request | None) -> None:
        with self._lock:
            flag = self._flags.get(_session(request))
        if flag is not None:
            flag.set()


def _session(request: gr.Request | None) -> str:
    return str(getattr(request, "session_hash", None) or "local")


stops = Stops()


def on_stop(request: gr.Request) -> None:
    """The Stop buttons' handler: ends this session's running job at its next step."""
    stops.stop(request)


def progress_fn(progress: gr.Progress, stop: threading.Event | None = None) -> ProgressFn:
    """Adapt a gr.Progress to core's ``progress(fraction, message)``; with a stop
    flag, a report after Stop raises and ends the job."""

    def report(fraction: float, message: str = "") -> None:
        if stop is not None and stop.is_set():
            raise UserError("stopped")
        progress(min(max(fraction, 0.0), 1.0), desc=message or None)

    return report


class PluginControls:
    """One hidden group of controls per plugin (built from each one's schema), of
    which only the chosen plugin's is shown; the tabs pass ``all`` as event
    inputs and read the chosen plugin's values back with :meth:`params`."""

    def __init__(self, plugins: dict[str, Any], shown: str) -> None:
        self.plugins = plugins
        self.groups: list[gr.Group] = []
        self.controls: dict[str, list[gr.components.Component]] = {}
        for name, plugin in plugins.items():
            with gr.Group(visible=name == shown) as group:
                self.controls[name] = build_controls(plugin.params)
            self.groups.append(group)
        self.all = [c for name in plugins for c in self.controls[name]]

    def params(self, chosen: str, values: Sequence[Any]) -> dict[str, Any]:
        """The chosen plugin's parameters out of the values of ``all``."""
        offset = 0
        for name, plugin in self.plugins.items():
            size = len(self.controls[name])
            if name == chosen:
                return values_to_params(plugin.params, values[offset:offset + size])
            offset += size
        raise UserError(f"unknown choice {chosen!r}")

    def show(self, chosen: str) -> list[Any]:
        """Visibility updates for ``groups``."""
        return [gr.update(visible=name == chosen) for name in self.plugins]
