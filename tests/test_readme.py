"""The README's two commands are the ones that work: CI runs the second verbatim."""
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
RUN_APP = "pip install -r requirements.txt && streamlit run app.py"
RUN_TESTS = "pip install -r requirements-dev.txt && python -m pytest -q"


def test_readme_has_the_two_commands():
    assert RUN_APP in README
    assert RUN_TESTS in README


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    assert RUN_TESTS in ci and "chromium" in ci


def pinned(name: str) -> set[str]:
    """The packages a requirements file pins; every line is a pin, a comment or an -r."""
    names = set()
    for line in (ROOT / name).read_text().splitlines():
        if line.strip() and not line.startswith(("#", "-r ")):
            assert "==" in line, line
            names.add(line.split("==")[0])
    return names


def test_requirements_are_pinned():
    assert {"streamlit", "pandas", "plotly", "duckdb", "pyarrow"} <= pinned("requirements.txt")
    # The test runner is the developers' (and CI's), not the app's: requirements-dev.txt,
    # which installs the app's requirements too.
    assert "pytest" not in pinned("requirements.txt")
    assert "pytest" in pinned("requirements-dev.txt")
    assert "-r requirements.txt" in (ROOT / "requirements-dev.txt").read_text().splitlines()
    assert ".venv/" in (ROOT / ".gitignore").read_text().splitlines()


def test_pages_are_not_in_a_folder_named_pages():
    assert not (ROOT / "pages").exists()
    assert "app_pages/" in (ROOT / "app.py").read_text()


def test_the_secrets_example_parses_and_holds_no_secret():
    import tomllib

    text = (ROOT / ".streamlit" / "secrets.toml.example").read_text()
    example = tomllib.loads(text)
    assert example["shared"] is True and example["KPILIB_STORE"] == "data/shop"
    assert example["password"].startswith("replace-")
    # The commented [auth] block becomes valid TOML once uncommented.
    block = text[text.index("# [auth]"):].splitlines()
    auth = tomllib.loads("\n".join(line.removeprefix("# ") for line in block))
    assert auth["auth"]["google"]["client_id"].startswith("replace-")
    assert ".streamlit/secrets.toml" in (ROOT / ".gitignore").read_text().splitlines()
    assert "## Share it: a hosted link" in README and "secrets.toml.example" in README
