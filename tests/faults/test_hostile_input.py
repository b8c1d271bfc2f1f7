"""Hostile and broken input: parsers never crash, each bad file has its message and exit code, and text is
stored verbatim (or refused, for NUL) without ever changing a query."""

from __future__ import annotations

import copy
import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL
from sqlalchemy.pool import NullPool
from typer.testing import CliRunner

from abdb.cli.app import app
from abdb.domain.records import AntibodyRecord, RecordError, Rejection
from abdb.io.legacy import read_legacy_antibodies
from abdb.io.legacy.convert import germline_features
from abdb.io.legacy.jsonfile import JsonFileError, loads_json_bytes
from abdb.io.pairing import read_antibodies

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
HEAVY = "EVQLVESGGGLVQPGGSLRLSCAASGFTFSSYAMSWVRQAPGKGLEWVSAISGSGGSTYYADSVKGRFTISRDNSKNTLYLQMNSLRAEDTAVYYCAK"
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)
SHAPES = [
    FIXTURES / name
    for name in ("legacy_result_v1.json", "legacy_result_v2.json", "legacy_request.json", "legacy_browser_history.json")
] + [FIXTURES / "legacy" / "data" / "sequences" / "abituzumab_2_chains.json"]
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _only_records_or_rejections(items: Iterator[Any]) -> None:
    for item in items:
        assert isinstance(item, AntibodyRecord | Rejection)
        if isinstance(item, Rejection):
            assert item.reason


@FAST
@given(data=st.binary(max_size=2000))
def test_any_bytes_as_fasta_give_records_or_rejections(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "any.fasta"
    path.write_bytes(data)
    _only_records_or_rejections(read_antibodies(path))


@FAST
@given(data=st.binary(max_size=2000))
def test_any_bytes_as_json_give_records_or_rejections(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "any.json"
    path.write_bytes(data)
    _only_records_or_rejections(read_legacy_antibodies(path))


@FAST
@given(value=JSON_VALUES)
def test_any_json_document_gives_records_or_rejections(tmp_path: Path, value: Any) -> None:
    path = tmp_path / "any.json"
    path.write_text(json.dumps(value))
    _only_records_or_rejections(read_legacy_antibodies(path))


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, (*prefix, index))


@pytest.mark.parametrize("shape", SHAPES, ids=lambda p: p.stem)
@FAST
@given(data=st.data())
def test_arbitrary_json_in_any_field_of_every_shape_gives_records_or_rejections(
    tmp_path: Path, shape: Path, data: st.DataObject
) -> None:
    document = json.loads(shape.read_text())
    paths = [p for p in _paths(document) if p]
    target = data.draw(st.sampled_from(paths))
    replacement = data.draw(JSON_VALUES)
    broken = copy.deepcopy(document)
    holder = broken
    for key in target[:-1]:
        holder = holder[key]
    holder[target[-1]] = replacement
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(broken))
    _only_records_or_rejections(read_legacy_antibodies(path))


@FAST
@given(value=st.text(max_size=200) | JSON_VALUES)
def test_germline_strings_either_parse_or_give_a_reason(value: Any) -> None:
    try:
        features = germline_features(value, "test")
    except RecordError as error:
        assert str(error)
    else:
        assert all(f.value for f in features)


@FAST
@given(data=st.binary(max_size=300))
def test_json_loading_raises_only_its_own_error(data: bytes) -> None:
    try:
        loads_json_bytes(data)
    except JsonFileError as error:
        assert str(error) and error.location


# -- specific cases through the command line -------------------------------------------------------------------


def _cases(folder: Path) -> dict[str, tuple[Path, str, str, int]]:
    """name → (file, importer, expected message, exit code)."""

    def write(name: str, data: bytes) -> Path:
        path = folder / name
        path.write_bytes(data)
        return path

    huge = folder / "huge.fasta"
    with huge.open("wb") as handle:
        handle.write(b">huge|heavy\n")
        for _ in range(100):
            handle.write(b"A" * 1_000_000)  # 100 MB on one line
        handle.write(b"\n")
    big_json = folder / "huge.json"
    big_json.write_text(json.dumps({"sequences": [{"name": "huge", "heavy_chain": "A" * 20_000_000}]}))
    truncated = gzip.compress(b">t|heavy\n" + HEAVY.encode() * 40 + b"\n")[:-30]
    return {
        "empty file": (write("empty.json", b""), "legacy-json", "the file is empty", 8),
        "empty fasta": (write("empty.fasta", b""), "fasta", "the file holds no FASTA records", 8),
        "binary file": (write("binary.fasta", bytes(range(256)) * 8), "fasta", "NUL byte", 8),
        "invalid UTF-8": (
            write("latin1.json", b'{"sequences": [{"name": "caf\xe9"}]}'),
            "legacy-json",
            "invalid UTF-8",
            8,
        ),
        "100 MB single line": (huge, "fasta", "line longer than 1,000,000 characters", 8),
        "20 MB sequence in JSON": (big_json, "legacy-json", "no antibody chain is longer than 10,000", 8),
        "nested 100,000 deep": (
            write("deep.json", b"[" * 100_000 + b"]" * 100_000),
            "legacy-json",
            "nested too deeply",
            8,
        ),
        "1e999": (
            write("inf.json", b'{"sequences": [], "numbering_scheme": 1e999}'),
            "legacy-json",
            "the number 1e999 is out of range",
            8,
        ),
        "NaN": (
            write("nan.json", b'{"sequences": [], "total_sequences": NaN}'),
            "legacy-json",
            "NaN is not a JSON number",
            8,
        ),
        "duplicate keys": (
            write("dup.json", b'{"sequences": [], "sequences": []}'),
            "legacy-json",
            "the key 'sequences' appears twice",
            8,
        ),
        "header without sequence": (write("header.fasta", b">lonely|heavy\n"), "fasta", "the sequence is empty", 8),
        "sequence without header": (
            write("orphan.fasta", HEAVY.encode() + b"\n"),
            "fasta",
            "sequence line before any '>' header",
            8,
        ),
        "truncated gzip": (write("cut.fasta.gz", truncated), "fasta", "the gzip stream is truncated", 8),
    }


@pytest.fixture(scope="module")
def cases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, str, str, int]]:
    return _cases(tmp_path_factory.mktemp("hostile"))


def _count(url: URL) -> int:
    engine = create_engine(url, poolclass=NullPool)
    with engine.connect() as connection:
        count = int(connection.execute(text("SELECT count(*) FROM antibody_sequences")).scalar_one())
    engine.dispose()
    return count


@pytest.mark.parametrize(
    "case",
    [
        "empty file",
        "empty fasta",
        "binary file",
        "invalid UTF-8",
        "100 MB single line",
        "20 MB sequence in JSON",
        "nested 100,000 deep",
        "1e999",
        "NaN",
        "duplicate keys",
        "header without sequence",
        "sequence without header",
        "truncated gzip",
    ],
)
def test_each_broken_file_has_its_message_and_exit_code_and_changes_nothing(
    fresh: URL, cases: dict[str, tuple[Path, str, str, int]], case: str
) -> None:
    path, command, message, code = cases[case]
    url = fresh.render_as_string(hide_password=False)
    result = CliRunner().invoke(app, ["--database-url", url, "import", command, str(path)])
    assert result.exit_code == code, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert _count(fresh) == 0


def test_windows_line_endings_and_a_byte_order_mark_simply_work(fresh: URL, tmp_path: Path) -> None:
    fasta = tmp_path / "windows.fasta"
    fasta.write_bytes(b"\xef\xbb\xbf>win|heavy\r\n" + HEAVY.encode() + b"\r\n")
    document = tmp_path / "windows.json"
    document.write_bytes(
        b"\xef\xbb\xbf"
        + json.dumps({"sequences": [{"name": "win2", "heavy_chain": HEAVY}]}, indent=1).replace("\n", "\r\n").encode()
    )
    url = fresh.render_as_string(hide_password=False)
    assert CliRunner().invoke(app, ["--database-url", url, "import", "fasta", str(fasta)]).exit_code == 0
    assert CliRunner().invoke(app, ["--database-url", url, "import", "legacy-json", str(document)]).exit_code == 0
    assert _count(fresh) == 2


def test_quotes_semicolons_backslashes_and_sql_in_fasta_headers_are_stored_verbatim(fresh: URL, tmp_path: Path) -> None:
    name = "x';DROP_TABLE_antibody_chains;--\\"
    description = "say \"hi\"; DELETE FROM users; \\n \\t $$ E'\\\\x00'"
    path = tmp_path / "hostile.fasta"
    path.write_text(f">{name}|heavy {description}\n{HEAVY}\n")
    url = fresh.render_as_string(hide_password=False)
    result = CliRunner().invoke(app, ["--database-url", url, "import", "fasta", str(path)])
    assert result.exit_code == 0, result.output
    engine = create_engine(fresh, poolclass=NullPool)
    with engine.connect() as connection:
        stored = connection.execute(text("SELECT name, description FROM antibody_sequences")).one()
        chains = connection.execute(text("SELECT count(*) FROM antibody_chains")).scalar_one()
    engine.dispose()
    assert tuple(stored) == (name, description)
    assert chains == 1
