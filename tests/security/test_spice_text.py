"""SPICE text from outside the package (model cards, LUTs) never makes ngspice run a command.

Payloads create marker files; each test asserts the refusal and that no marker appears.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import h5py
import pytest
from click.testing import CliRunner

from neatxbar.characterize.runner import characterize, lock_path, partial_path
from neatxbar.characterize.spec import parse_spec
from neatxbar.cli.main import cli
from neatxbar.spice import session
from neatxbar.spice.params import check_card_text

GOOD_CARD = ".model mine nmos level=1\n+ vto=0.466 kp=3.3e-4\n"

SPEC = """
name = "card"
chunk_size = 2
[conductance]
num = 3
[v_in]
start_v = 0.0
stop_v = 0.5
num = 3
[v_gate]
start_v = 0.8
stop_v = 1.2
num = 2
[transistor]
model = "mine"
card_file = "card.lib"
"""


def _payloads(marker: Path) -> dict[str, str]:
    touch = f"touch {marker}"
    return {
        "star-hash": f"* a comment\n*#shell {touch}\n{GOOD_CARD}",
        "star-space-hash": f"{GOOD_CARD}*  #shell {touch}\n",
        "control": f"{GOOD_CARD}.control\nshell {touch}\n.endc\n",
        "include": f".include /etc/passwd\n{GOOD_CARD}",
        "lib": f"{GOOD_CARD}.lib /etc/passwd tt\n",
        "element": f"{GOOD_CARD}r1 a 0 1k\n",
        "param": f".param x=1\n{GOOD_CARD}",
        "continuation-first": f"+ shell {touch}\n{GOOD_CARD}",
        "semicolon": f".model mine nmos level=1 ; shell {touch}\n",
        "carriage-return": f"{GOOD_CARD}* ok\r*#shell {touch}\n",
        "form-feed": f"{GOOD_CARD}\x0c.control\n",
        "braces": ".model mine nmos level=1\n+ vto={shell}\n",
        "two-models": f"{GOOD_CARD}.model other nmos level=1\n",
    }


@pytest.mark.parametrize("kind", list(_payloads(Path("/m"))))
def test_the_gate_refuses_everything_but_model_lines_and_plain_comments(
    kind: str, tmp_path: Path
) -> None:
    text = _payloads(tmp_path / "marker")[kind]
    with pytest.raises(ValueError, match=r"card\.lib") as refused:
        check_card_text(text, "card.lib", "mine")
    message = str(refused.value)
    assert "\n" not in message
    if kind != "two-models":
        assert " line " in message


def test_the_gate_accepts_the_shipped_cards_and_plain_cards() -> None:
    assert check_card_text(GOOD_CARD, "c", "mine") == GOOD_CARD
    windows = "* made on Windows\r\n" + GOOD_CARD.replace("\n", "\r\n")
    check_card_text(windows, "c", "mine")
    spec = parse_spec(SPEC.replace('card_file = "card.lib"\n', "").replace("mine", "nmos_level1"))
    spec.cell_transistor().validate()


@pytest.mark.parametrize("kind", ["star-hash", "control", "include", "element"])
def test_characterize_refuses_a_card_payload_in_one_line_and_writes_nothing(
    kind: str, tmp_path: Path
) -> None:
    marker = tmp_path / "marker"
    (tmp_path / "card.lib").write_text(_payloads(marker)[kind])
    (tmp_path / "s.toml").write_text(SPEC)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    result = CliRunner().invoke(
        cli,
        [
            "characterize",
            "--spec",
            str(tmp_path / "s.toml"),
            "--out",
            str(out_dir / "x.h5"),
            "--workers",
            "1",
            "--no-progress",
        ],
    )
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error:") and result.output.count("\n") == 1
    assert "card.lib" in result.output and "line" in result.output
    assert not marker.exists()
    assert list(out_dir.iterdir()) == []


def test_ngspice_itself_refuses_shell_even_if_a_command_line_got_through(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    netlist = (
        f"* defence in depth\n*#unalias shell\n*#shell touch {marker}\n.control\n"
        f"shell touch {marker}\n.endc\nv1 a 0 dc 1\nr1 a 0 1k\n.op\n.end\n"
    )
    session().run(netlist)
    assert not marker.exists()


def _tampered_copy(source: Path, target: Path, **attrs: str) -> Path:
    shutil.copyfile(source, target)
    with h5py.File(target, "r+") as f:
        for key, value in attrs.items():
            f.attrs[key] = value
    return target


def _compare(lut: Path, out: Path) -> object:
    args = ["compare", "--lut", str(lut), "--sizes", "2", "--vectors", "1", "--no-trained"]
    return CliRunner().invoke(cli, [*args, "--out", str(out), "--no-progress"])


def test_compare_uses_the_stored_card_never_a_card_file_named_in_the_luts_spec(
    paper_lut_path: Path, tmp_path: Path
) -> None:
    with h5py.File(paper_lut_path, "r") as f:
        spec = str(f.attrs["spec"])
    assert "card_file" not in spec
    spec = spec.replace("[transistor]\n", '[transistor]\ncard_file = "/etc/passwd"\n', 1)
    lut = _tampered_copy(paper_lut_path, tmp_path / "x.h5", spec=spec)
    result = _compare(lut, tmp_path / "report")
    assert result.exit_code == 0, result.output
    assert "root:" not in result.output and "passwd" not in result.output


def test_compare_refuses_a_command_in_the_stored_card(paper_lut_path: Path, tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    with h5py.File(paper_lut_path, "r") as f:
        netlist = str(f.attrs["cell_netlist"])
    head, _, rest = netlist.partition("\n")
    tampered = f"{head}\n*#shell touch {marker}\n{rest}"
    lut = _tampered_copy(paper_lut_path, tmp_path / "x.h5", cell_netlist=tampered)
    result = _compare(lut, tmp_path / "report")
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error:") and result.output.count("\n") == 1
    assert "line 2" in result.output
    assert not marker.exists()
    assert not (tmp_path / "report").exists()


def test_a_bsim4_parameter_warning_leaves_nothing_in_the_working_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # ngate <= 1e18 is a BSIM4 parameter-check warning: ngspice used to write bsim4v5.out
    # into the working folder.
    spec_dir, work = tmp_path / "spec", tmp_path / "work"
    spec_dir.mkdir()
    work.mkdir()
    text = SPEC.replace('model = "mine"\ncard_file = "card.lib"\n', "").replace(
        "[transistor]\n", "[transistor]\nw_m = 4.7e-7\nmodel_params = {ngate = 1e17}\n"
    )
    (spec_dir / "s.toml").write_text(text)
    monkeypatch.chdir(work)
    result = CliRunner().invoke(
        cli,
        [
            "characterize",
            "--spec",
            str(spec_dir / "s.toml"),
            "--out",
            "x.h5",
            "--workers",
            "1",
            "--no-progress",
        ],
    )
    assert result.exit_code == 0, result.output
    assert sorted(os.listdir(work)) == ["x.h5"]


def test_a_partial_with_nothing_solved_does_not_block_a_corrected_spec(tmp_path: Path) -> None:
    from neatxbar.characterize.runner import _new_file

    good = SPEC.replace('model = "mine"\ncard_file = "card.lib"\n', "w_m = 4.7e-7\n")
    other = good.replace("num = 3\n[v_in]", "num = 4\n[v_in]")
    out = tmp_path / "x.h5"
    first = parse_spec(other)
    _new_file(partial_path(out), first, other, first.sha256())  # a run that never solved a chunk
    report = characterize(parse_spec(good), good, out, workers=1, progress=False)
    assert report.complete and report.points_run == 3 * 3 * 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.h5"]
    assert not lock_path(out).exists()
