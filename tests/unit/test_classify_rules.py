"""Tier 1: the rules file format, matching per source, and rules outside a model's label set."""

import pytest

from logpilot_dagster.classify.labels import DEFAULT_LABELS
from logpilot_dagster.classify.rules import RulesError, RuleSet

RULES = '''
[[rule]]
name = "login"
label = "User Action"
pattern = '^User \\S+ logged in'

[[rule]]
label = "Security Alert"
pattern = 'denied'
sources = ["firewall"]
flags = "i"
'''


def test_rules_match_by_pattern_and_source():
    rules = RuleSet.parse(RULES, origin="test")
    assert rules.first_match("app", "User bob logged in").name == "login"
    assert rules.first_match("firewall", "Access DENIED to 10.0.0.1").label == "Security Alert"
    assert rules.first_match("FireWall", "access denied").name == "rule-2"  # source names ignore case
    assert rules.first_match("app", "access denied") is None  # rule is for another source


@pytest.mark.parametrize("text, problem", [
    ("[[rule]]\nlabel='x'\n", "'pattern'"),
    ("[[rule]]\npattern='x'\n", "'label'"),
    ("[[rule]]\nlabel='x'\npattern='('\n", "not a valid regex"),
    ("[[rule]]\nlabel='x'\npattern='a'\nflags='q'\n", "'flags'"),
    ("[[rule]]\nlabel='x'\npattern='a'\nsources=3\n", "'sources'"),
    ("not toml = = ", "not valid TOML"),
])
def test_bad_rules_files_say_where_and_why(text, problem):
    with pytest.raises(RulesError, match=problem):
        RuleSet.parse(text, origin="mine.toml")


def test_rules_outside_the_label_set_are_left_out():
    kept, dropped = RuleSet.parse(RULES, origin="t").restricted_to(["User Action", "Error"])
    assert [r.name for r in kept.rules] == ["login"]
    assert [r.name for r in dropped] == ["rule-2"]


def test_packaged_default_rules_load_and_use_default_labels():
    rules = RuleSet.default()
    assert len(rules) > 0
    assert rules.labels <= set(DEFAULT_LABELS)
    assert rules.first_match("x", "User User123 logged out.").label == "User Action"
    assert rules.first_match("x", '10.0.0.1 "GET /index.html HTTP/1.1" 404 12').label == "HTTP Status"
    assert rules.first_match("x", "Method foo() is deprecated since 2.0").label == "Deprecation Warning"
    assert rules.first_match("x", "Disk usage 91% on /var") is None


def test_missing_rules_file_is_a_clear_error(tmp_path):
    with pytest.raises(RulesError, match="cannot read rules file"):
        RuleSet.load(tmp_path / "nope.toml")
