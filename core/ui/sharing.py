"""How the app may be exposed: credentials, public links, Hugging Face Spaces.

Public share links are found and used by strangers, so ``--share`` needs
credentials unless the person explicitly types ``--share-without-auth``. On a
Hugging Face Space the Space's own settings decide who gets in; no share link is
made there.
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping


# The diffusers plugin's "any model" field (see README): local experiments only.
MODEL_FIELD_ENV = "IMPASTO_ALLOW_MODEL_FIELD"


class LaunchRefused(Exception):
    """The launch options are unsafe or malformed; the message says how to fix them."""


@dataclass
class LaunchPlan:
    host: str
    share: bool
    auth: list[tuple[str, str]] | None


def on_hf_space(environ: Mapping[str, str]) -> bool:
    return bool(environ.get("SPACE_ID") or environ.get("SYSTEM") == "spaces")


def parse_credential(text: str, where: str) -> tuple[str, str]:
    user, sep, password = text.strip().partition(":")
    if not sep or not user or not password:
        raise LaunchRefused(f"{where}: credentials must look like user:password")
    return user, password


def read_credentials(args: argparse.Namespace, environ: Mapping[str, str]) -> list[tuple[str, str]]:
    creds = [parse_credential(item, "--auth") for item in (args.auth or [])]
    if args.auth_file:
        path = Path(args.auth_file)
        if not path.is_file():
            raise LaunchRefused(f"--auth-file: no such file: {path}")
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.strip() and not line.lstrip().startswith("#"):
                creds.append(parse_credential(line, f"{path.name} line {number}"))
        if not creds:
            raise LaunchRefused(f"--auth-file: {path} holds no user:password line")
    for item in environ.get("IMPASTO_AUTH", "").split(","):
        if item.strip():
            creds.append(parse_credential(item, "IMPASTO_AUTH"))
    return creds


def plan_launch(args: argparse.Namespace, environ: Mapping[str, str]) -> LaunchPlan:
    creds = read_credentials(args, environ)
    auth = creds or None
    if on_hf_space(environ):
        # The Space's visibility settings decide; it serves on all interfaces itself.
        return LaunchPlan(host="0.0.0.0", share=False, auth=auth)
    if args.share and not creds and not args.share_without_auth:
        raise LaunchRefused(
            "--share makes a public link that anyone who finds it can use. Add credentials: "
            "--auth USER:PASS, --auth-file FILE (user:pass lines) or IMPASTO_AUTH=user:pass. "
            "To share without any login anyway, pass --share-without-auth.")
    if environ.get(MODEL_FIELD_ENV, "").strip() == "1" and (args.share or not is_loopback(args.host)):
        raise LaunchRefused(
            f"{MODEL_FIELD_ENV}=1 lets whoever uses the app load any model by name, which is for "
            "your own machine only: drop it, or serve on 127.0.0.1 without --share. List the "
            "models to serve in IMPASTO_DIFFUSERS_MODELS instead.")
    return LaunchPlan(host=args.host, share=bool(args.share), auth=auth)


def is_loopback(host: str) -> bool:
    return host in ("127.0.0.1", "localhost", "::1") or host.startswith("127.")
