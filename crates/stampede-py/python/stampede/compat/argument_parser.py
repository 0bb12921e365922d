"""``locust.argument_parser``: the parser a locustfile's ``init_command_line_parser``
listener adds its own arguments to.

Stampede's own options are parsed by the engine (one parser); this parser holds only the
locustfile's, with Locust's extras (``env_var``, ``include_in_web_ui``, ``is_secret``,
``is_required``, ``is_multiple``) and argparse's own (``choices``, ``default``, ``type``).
"""

from __future__ import annotations

import argparse
import os


class LocustArgumentParser(argparse.ArgumentParser):
    """Drop-in for Locust's parser of the same name (configargparse underneath there)."""

    def add_argument(self, *args, **kwargs):
        include_in_web_ui = kwargs.pop("include_in_web_ui", True)
        is_secret = kwargs.pop("is_secret", False)
        is_required = kwargs.pop("is_required", False)
        is_multiple = kwargs.pop("is_multiple", False)
        env_var = kwargs.pop("env_var", None)
        if env_var and env_var in os.environ:
            value = os.environ[env_var]
            kind = kwargs.get("type")
            kwargs["default"] = kind(value) if callable(kind) else value
            kwargs.pop("required", None)
        action = super().add_argument(*args, **kwargs)
        action.include_in_web_ui = include_in_web_ui
        action.is_secret = is_secret
        action.is_required = is_required
        action.is_multiple = is_multiple
        action.env_var = env_var
        return action

    def add_argument_group(self, *args, **kwargs):
        group = super().add_argument_group(*args, **kwargs)
        group.add_argument = self.add_argument
        return group

    @property
    def args_included_in_web_ui(self):
        return {a.dest: a for a in self._actions if getattr(a, "include_in_web_ui", False)}

    @property
    def secret_args_included_in_web_ui(self):
        return {d: a for d, a in self.args_included_in_web_ui.items() if getattr(a, "is_secret", False)}

    @property
    def required_args_included_in_web_ui(self):
        return {d: a for d, a in self.args_included_in_web_ui.items() if getattr(a, "is_required", False)}

    @property
    def multiple_args_included_in_web_ui(self):
        return {d: a for d, a in self.args_included_in_web_ui.items() if getattr(a, "is_multiple", False)}
