import itertools
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest


@pytest.fixture(scope="session", autouse=True)
def fresh_delegate_plugin():
    """Tests that use sbtf.Interpreter must run the current C kernels, not a stale build."""
    from sbtf.interpreter import build_in_place

    build_in_place()


# ---- one compile of the model-independent C per session ----
# Every runtime test links a model's generated C with the same runtime, kernel and startup
# files; sbtf.micro.build compiles them all in one gcc command per model. Under test they are
# compiled once per compiler and flag set (the command's own flags: -Werror, sanitizers,
# defines) and the objects linked in their place: the same code, a fraction of the time.
_LINK_ONLY = ("-o", "-l", "-L", "-T", "-Wl,", "-nostartfiles")
_TWO_PART = {"-x", "-include", "-imacros", "-isystem", "-MF", "-MT", "-MQ", "-Xlinker"}


@pytest.fixture(scope="session", autouse=True)
def compile_shared_c_once(tmp_path_factory):
    from sbtf.micro import build, runtime

    shared = {str(p) for p in (*runtime.runtime_sources(), *build.kernel_sources(),
                               build.board_dir() / "startup.c")}
    repo_c = str(build.include_dir().parent)
    objects_dir = tmp_path_factory.mktemp("shared_objects")
    objects: dict[tuple, str] = {}
    run = build._run

    def compile_flags(cmd):
        """The command's compile flags: no sources, outputs or link options, and only the
        repository's include dirs (not a model's generated folder, which differs per test)."""
        flags = []
        for prev, arg in itertools.pairwise(cmd):
            generated_dir = arg.startswith("-I") and not arg[2:].startswith(repo_c)
            if not (prev == "-o" or arg.startswith(_LINK_ONLY) or not arg.startswith("-")
                    or generated_dir):
                flags.append(arg)
        return flags

    def shared_objects_run(cmd, what):
        if "-c" in cmd or _TWO_PART.intersection(cmd) or not shared.intersection(cmd):
            return run(cmd, what)
        flags = compile_flags(cmd)
        linked = []
        for arg in cmd:
            if arg in shared:
                key = (cmd[0], arg, *flags)
                if key not in objects:
                    obj = objects_dir / f"{len(objects)}-{arg.rsplit('/', 1)[-1]}.o"
                    run([cmd[0], *flags, "-c", arg, "-o", str(obj)], what)
                    objects[key] = str(obj)
                arg = objects[key]
            linked.append(arg)
        return run(linked, what)

    build._run = shared_objects_run
    yield
    build._run = run
