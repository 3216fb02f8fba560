"""The YAML loader: data equal to PyYAML's, a position for every node, problems as diagnostics."""

import pytest
import yaml

from topoform.dsl.loader import MAX_NODES, load_file, load_text

TEXT = """\
blueprint: shop
services:
  web:
    image: nginx
    ports: [80, 443]
    env: {A: "x", B: 2}
"""


def test_data_is_what_pyyaml_reads():
    loaded = load_text(TEXT, "f.yaml")
    assert loaded.diagnostics == []
    assert loaded.data == yaml.safe_load(TEXT)


def test_every_value_and_key_has_its_line_and_column():
    source = load_text(TEXT, "f.yaml").source
    assert str(source.value(("blueprint",))) == "f.yaml:1:12"
    assert str(source.key(("services", "web"))) == "f.yaml:3:3"
    assert str(source.value(("services", "web", "image"))) == "f.yaml:4:12"
    assert str(source.value(("services", "web", "ports", 1))) == "f.yaml:5:17"
    assert str(source.key(("services", "web", "env", "B"))) == "f.yaml:6:19"
    assert str(source.value(("services", "web", "env", "B"))) == "f.yaml:6:22"


def test_a_path_not_written_falls_back_to_its_nearest_ancestor():
    source = load_text(TEXT, "f.yaml").source
    assert source.value(("services", "web", "health", "path")) == source.value(("services", "web"))
    assert str(source.value(("nothing",))) == "f.yaml:1:1"


def test_at_points_at_the_key_of_a_mapping_and_at_a_scalar_itself():
    source = load_text(TEXT, "f.yaml").source
    assert str(source.at(("services", "web"))) == "f.yaml:3:3"  # not line 4, where the mapping's content starts
    assert str(source.at(("services", "web", "image"))) == "f.yaml:4:12"


def test_duplicate_keys_are_errors_that_point_at_both():
    loaded = load_text("a: 1\nb: 2\na: 3\n", "f.yaml")
    assert loaded.data == {"a": 1, "b": 2}
    [diag] = loaded.diagnostics
    assert (diag.line, diag.column, diag.message) == (3, 1, "duplicate key 'a'")
    assert "line 1, column 1" in diag.hint


def test_syntax_errors_have_the_parser_position():
    loaded = load_text("a:\n  b: [1, 2\nc: 3\n", "f.yaml")
    assert loaded.data is None
    [diag] = loaded.diagnostics
    assert diag.message.startswith("YAML syntax error:")
    assert (diag.line, diag.column) == (3, 2)


@pytest.mark.parametrize("text, where, opened", [
    ("a:\n  b: [1, 2\nc: 3\n", (3, 2), "the '[' at line 2, column 6 is not closed"),
    ("a: 1\n" * 31 + "x: {image: nginx, port: 80\ny: 2\n", (33, 2), "the '{' at line 32, column 4 is not closed"),
    ("a: {b: 1 c: 2}\n", (1, 11), "the '{' at line 1, column 4 is not closed"),
    ("a: 'open\nb: 1\n", (2, 5), "the quoted string at line 1, column 4 is not closed"),
])
def test_an_unclosed_bracket_or_quote_points_back_at_where_it_opened(text, where, opened):
    [diag] = load_text(text, "f.yaml").diagnostics
    assert (diag.line, diag.column) == where
    assert diag.hint.startswith(opened)
    assert opened.split(" is ")[0].split(" at ")[1] in diag.message


def test_yaml_11_words_are_booleans_as_values_but_stay_words_as_keys():
    assert load_text("on: yes\n1: off\n~: null\n").data == {"on": True, "1": False, "~": None}


def test_numbers_and_strings_resolve_as_in_pyyaml():
    text = "a: 0x1F\nb: 1_000\nc: 010\nd: .inf\ne: '3'\nf: 2024-01-01\ng: 1.5\nh: -7\ni: +3\n"
    assert load_text(text).data == {**yaml.safe_load(text), "f": "2024-01-01"}  # dates stay as written


def test_aliases_and_merge_keys_resolve_and_keep_the_anchor_positions():
    text = "base: &b\n  x: 1\n  y: 2\nuse:\n  <<: *b\n  y: 3\nref: *b\n"
    loaded = load_text(text, "f.yaml")
    assert loaded.data == {"base": {"x": 1, "y": 2}, "use": {"x": 1, "y": 3}, "ref": {"x": 1, "y": 2}}
    assert str(loaded.source.value(("use", "x"))) == "f.yaml:2:6"  # where x was written, under the anchor
    assert str(loaded.source.value(("use", "y"))) == "f.yaml:6:6"
    assert str(loaded.source.value(("ref", "y"))) == "f.yaml:3:6"


def test_a_recursive_alias_is_an_error_not_a_hang():
    loaded = load_text("a: &x [1, *x]\n")
    assert any("contains it" in d.message for d in loaded.diagnostics)


def test_an_alias_bomb_is_refused():
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    loaded = load_text("\n".join(lines) + "\n")
    assert loaded.data is None
    assert f"more than {MAX_NODES:,}" in loaded.diagnostics[0].message


def test_deep_nesting_does_not_overflow_the_stack():
    depth = 990  # past what a recursive walk survives under pytest, below libyaml's own limit
    loaded = load_text("a: " + "[" * depth + "]" * depth + "\n")
    assert loaded.diagnostics == []
    inner = loaded.data["a"]
    for _ in range(depth - 1):
        inner = inner[0]
    assert inner == []


def test_nesting_beyond_libyamls_limit_is_a_diagnostic_not_a_crash():
    # PyYAML ≥ 6.0.4 bundles a libyaml that refuses more than 1,000 levels;
    # older ones parse them. Either way: data or a positioned diagnostic, never an exception.
    depth = 3000
    loaded = load_text("a: " + "[" * depth + "]" * depth + "\n")
    if loaded.diagnostics:
        assert loaded.data is None
        assert "nesting depth" in loaded.diagnostics[0].message
        assert loaded.diagnostics[0].line == 1
    else:
        assert loaded.data is not None


def test_tags_other_than_plain_yaml_are_errors():
    loaded = load_text("a: !include x.yaml\nb: !!str 3\nc: !!binary aGk=\n")
    assert [d.message for d in loaded.diagnostics] == ["unsupported YAML tag !include",
                                                       "unsupported YAML tag tag:yaml.org,2002:binary"]
    assert loaded.data["b"] == "3"


def test_more_than_one_document_is_an_error():
    loaded = load_text("a: 1\n---\nb: 2\n")
    assert "one YAML document" in loaded.diagnostics[0].message
    assert loaded.diagnostics[0].line == 2


def test_empty_files_and_control_characters(tmp_path):
    assert load_text("# only a comment\n").diagnostics[0].message == "the blueprint is empty"
    bad = load_text("a: 1\nb: \x01\n")
    assert (bad.diagnostics[0].line, bad.diagnostics[0].column) == (2, 4)
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"a: 1\nb: caf\xe9\n")
    diag = load_file(str(path)).diagnostics[0]
    assert (diag.line, diag.column, diag.message) == (2, 7, "the file is not UTF-8 text (byte 0xe9)")


def test_a_byte_order_mark_is_not_content(tmp_path):
    path = tmp_path / "bom.yaml"
    path.write_bytes(b"\xef\xbb\xbfblueprint: shop\n")
    assert load_file(str(path)).data == {"blueprint": "shop"}


def test_missing_files_and_directories_are_diagnostics(tmp_path):
    assert load_file(str(tmp_path / "nope.yaml")).diagnostics[0].message == "file not found"
    assert "directory" in load_file(str(tmp_path)).diagnostics[0].message


def test_strings_holding_interpolations_are_recorded_for_substitution():
    loaded = load_text("a: ${var.x}\nb: plain\nc: [x, 'y ${services.web.url}']\n")
    assert loaded.dollar_paths == [("a",), ("c", 1)]
