"""What every registered method (`anomaly_lib.method`) promises, checked for each one.

A method registered later is checked by the same tests without a line added here.
"""

import pytest

from anomaly_lib import method
from tests.cli_checks import assert_one_line_error, run_cli

NAMES = method.names()


@pytest.mark.parametrize("name", NAMES)
def test_the_command_line_has_the_shared_flags(name, capsys):
    with pytest.raises(SystemExit) as stop:
        method.get(name).main(["--help"])
    assert stop.value.code == 0
    text = capsys.readouterr().out
    for flag in ("--mode", "--resume", "--overwrite", "--progress", "--no-progress", "--quiet", "--debug",
                 "--follow_symlinks"):
        assert flag in text, f"{name}: {flag} missing"


@pytest.mark.parametrize("name", NAMES)
def test_resume_without_a_checkpoint_is_one_line_naming_it(name, tmp_path, capsys):
    registered = method.get(name)
    code, _, err = run_cli(registered.main, ["--mode", "demo", "--save_dir", tmp_path / "run", "--resume",
                                             "--no-progress", *registered.smoke_flags], capsys)
    assert_one_line_error(code, err, "--resume: no checkpoint to resume from", registered.run_files[0])


@pytest.mark.parametrize("name", NAMES)
def test_variants_and_settings_describe_the_method(name):
    registered = method.get(name)
    assert name in registered.variants and registered.variants[name] == {}
    assert set(registered.trains_on) <= set(registered.variants)
    fields = set(registered.config.__dataclass_fields__)
    assert set(registered.setting_types) <= fields, "a comparison may only set the method's own settings"
    for changes in registered.variants.values():
        assert set(changes) <= fields
