"""The ``locust`` finder (``stampede._hook``): aliases, refusals, and no effect when absent."""

import os
import subprocess
import sys
import textwrap

import pytest

import stampede.compat as compat
from stampede import _hook

HERE = os.path.dirname(os.path.abspath(__file__))
PY_DIR = os.path.normpath(os.path.join(HERE, "..", "..", "python"))


def _python(code):
    """Runs ``code`` in a fresh interpreter with only ``stampede`` on the path."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = PY_DIR
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=env, timeout=120)
    return proc


def test_locust_is_the_compat_package_itself():
    import locust
    import locust.user.users

    assert locust is compat
    assert locust.user.users is sys.modules["stampede.compat.user.users"]
    assert locust.User is compat.user.users.User


def test_submodules_are_the_same_objects():
    from locust.env import Environment
    from locust.exception import StopUser
    from locust.runners import LocalRunner, MasterRunner

    import stampede.compat.env
    import stampede.compat.exception
    import stampede.compat.runners

    assert Environment is stampede.compat.env.Environment
    assert StopUser is stampede.compat.exception.StopUser
    assert LocalRunner is stampede.compat.runners.LocalRunner
    assert MasterRunner is stampede.compat.runners.MasterRunner


def test_locust_events_module_is_the_events_instance():
    import locust
    import locust.events
    from locust import events
    from locust.event import Events

    assert locust.events is events is compat.events
    assert sys.modules["locust.events"] is events
    assert isinstance(events, Events)


def test_decorator_names_are_not_replaced_by_submodules():
    """``import locust.user.task`` must not rebind ``locust.user.task`` (the decorator)."""
    import locust.user.task  # noqa: F401
    import locust.user.wait_time  # noqa: F401
    from locust.user import task

    assert callable(task) and not hasattr(task, "__path__") and task.__name__ == "task"
    assert compat.user.task is task


def test_compat_keeps_its_own_spec():
    import locust  # noqa: F401

    assert compat.__spec__.name == "stampede.compat"
    assert sys.modules["stampede.compat.user"].__spec__.name == "stampede.compat.user"


def test_all_names_are_exported():
    import locust

    for name in locust.__all__:
        if name in ("FastHttpUser", "run_single_user"):
            continue  # written elsewhere, imported on first use
        assert getattr(locust, name) is not None, name
    assert locust.__version__ == "2.47.0"


def test_unprovided_module_is_refused_by_name():
    with pytest.raises(ImportError) as err:
        import locust.util.cache  # noqa: F401
    assert str(err.value) == "unsupported API: locust.util.cache (Stampede's Python front does not provide it)"
    assert isinstance(err.value, _hook.UnsupportedLocustAPI)
    assert isinstance(err.value, ModuleNotFoundError)


def test_contrib_module_is_refused_by_name():
    try:
        import stampede.compat.contrib  # noqa: F401
    except ImportError:
        pytest.skip("stampede.compat.contrib is written by another change")
    with pytest.raises(ImportError, match=r"^unsupported API: locust\.contrib\.mongodb \(Stampede's Python front does not provide it\)$"):
        import locust.contrib.mongodb  # noqa: F401


def test_unknown_top_level_name_is_an_attribute_error():
    import locust

    with pytest.raises(AttributeError):
        locust.NoSuchThing  # noqa: B018


def test_fast_http_user_is_lazy():
    import locust

    try:
        import stampede.compat.contrib.fasthttp  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="unsupported API: locust.FastHttpUser"):
            locust.FastHttpUser  # noqa: B018
    else:
        assert locust.FastHttpUser is sys.modules["stampede.compat.contrib.fasthttp"].FastHttpUser


def test_other_names_are_untouched():
    """Only ``locust`` and ``locust.*`` go through the finder."""
    finder = _hook.LocustAlias()
    assert finder.find_spec("locustish") is None
    assert finder.find_spec("json") is None


def test_without_install_real_locust_is_imported():
    proc = _python(
        """
        import stampede._runtime, stampede.compat
        import locust
        print(locust.__file__)
        """
    )
    assert proc.returncode == 0, proc.stderr
    assert "site-packages/locust/__init__.py" in proc.stdout


def test_install_then_uninstall_restores_real_locust():
    proc = _python(
        """
        from stampede import _hook
        _hook.install()
        import locust
        assert locust.__name__ == "stampede.compat", locust
        _hook.uninstall()
        assert "locust" not in __import__("sys").modules
        import locust
        print(locust.__file__)
        """
    )
    assert proc.returncode == 0, proc.stderr
    assert "site-packages/locust/__init__.py" in proc.stdout


def test_install_after_real_locust_is_refused():
    proc = _python(
        """
        import locust
        from stampede import _hook
        try:
            _hook.install()
        except _hook.LocustAlreadyImported as e:
            print("refused:", e)
        """
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("refused: real Locust was imported before Stampede's locust shim")


def test_first_import_can_be_a_deep_submodule():
    proc = _python(
        """
        from stampede import _hook
        _hook.install()
        import locust.user.task
        from locust.user import task
        import locust
        assert callable(task) and task.__name__ == "task"
        assert locust.user.task is task
        from locust.user.task import TaskSet
        assert TaskSet is locust.TaskSet
        print("ok")
        """
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"


def test_install_is_idempotent():
    _hook.install()
    _hook.install()
    assert sum(isinstance(f, _hook.LocustAlias) for f in sys.meta_path) == 1
    assert _hook.installed()


@pytest.mark.parametrize(
    "first_import",
    ["from locust.env import Environment", "import locust", "import locust.user.users", "from locust.runners import LocalRunner", "import locust.events"],
)
def test_each_compat_module_runs_once_whatever_is_imported_first(first_import):
    """A module the finder registers must not be executed a second time by the import
    system (it would be, were the name being found already in sys.modules)."""
    proc = _python(
        f"""
        import sys
        from stampede import _hook
        _hook.install()
        {first_import}
        import locust, locust.env, locust.runners, locust.user.task
        import stampede.compat, stampede.compat.env, stampede.compat.runners
        bad = [n for n, m in list(sys.modules.items())
               if n.startswith("stampede.compat") and sys.modules.get("locust" + n[len("stampede.compat"):], m) is not m]
        assert not bad, bad
        assert locust.env.Environment is stampede.compat.env.Environment
        assert locust.events is stampede.compat.events is sys.modules["locust.events"]
        print("ok")
        """
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"


def test_star_import_gives_every_name():
    proc = _python(
        """
        from stampede import _hook
        _hook.install()
        from locust import *
        import locust
        missing = [n for n in locust.__all__ if n not in globals()]
        assert not missing, missing
        print("ok")
        """
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"
