"""client.py's pure functions: ComfyUI's 400 answers and /history entries turned into data."""

from __future__ import annotations

import copy

import pytest

from comfy_plugin.client import (
    OutputFile,
    failure_from_history,
    rejection,
    result_from_history,
)
from comfy_plugin.errors import (
    ComfyError,
    ExecutionFailed,
    ExecutionInterrupted,
    PromptRejected,
)

WORKFLOW = {
    "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "x.safetensors"},
          "_meta": {"title": "Load Checkpoint"}},
    "3": {"class_type": "KSampler", "inputs": {"seed": 1, "steps": 20}, "_meta": {"title": "KSampler"}},
    "9": {"class_type": "SaveImage", "inputs": {"images": ["8", 0]}, "_meta": {"title": "Save Image"}},
}

ANSWER_400 = {
    "error": {"type": "prompt_outputs_failed_validation", "message": "Prompt outputs failed validation",
              "details": "", "extra_info": {}},
    "node_errors": {
        "4": {
            "errors": [{
                "type": "value_not_in_list",
                "message": "Value not in list",
                "details": "ckpt_name: 'x.safetensors' not in []",
                "extra_info": {"input_name": "ckpt_name", "received_value": "x.safetensors"},
            }],
            "dependent_outputs": ["9"],
            "class_type": "CheckpointLoaderSimple",
        }
    },
}


# -- rejection -------------------------------------------------------------------------


def test_rejection_names_node_class_title_input_and_message():
    err = rejection(400, ANSWER_400, WORKFLOW)
    assert isinstance(err, PromptRejected)
    text = str(err)
    assert text.splitlines()[0] == \
        "ComfyUI rejected the prompt: Prompt outputs failed validation [prompt_outputs_failed_validation]"
    line = text.splitlines()[1]
    assert "node 4" in line
    assert "CheckpointLoaderSimple" in line
    assert "'Load Checkpoint'" in line
    assert "input 'ckpt_name'" in line
    assert "Value not in list" in line
    assert "ckpt_name: 'x.safetensors' not in []" in line
    assert line == ("  - node 4 (CheckpointLoaderSimple 'Load Checkpoint') input 'ckpt_name': "
                    "Value not in list (ckpt_name: 'x.safetensors' not in [])")


def test_rejection_structured_fields():
    err = rejection(400, ANSWER_400, WORKFLOW)
    assert err.error_type == "prompt_outputs_failed_validation"
    assert err.message == "Prompt outputs failed validation"
    [node] = err.node_errors
    assert node.node_id == "4"
    assert node.class_type == "CheckpointLoaderSimple"
    assert node.title == "Load Checkpoint"
    assert node.input_name == "ckpt_name"
    assert node.error_type == "value_not_in_list"
    assert node.received == "x.safetensors"


def test_rejection_several_errors_and_nodes():
    answer = copy.deepcopy(ANSWER_400)
    answer["node_errors"]["3"] = {
        "errors": [
            {"type": "value_smaller_than_min", "message": "Value 0 smaller than min of 1",
             "details": "steps", "extra_info": {"input_name": "steps", "received_value": 0}},
            {"type": "required_input_missing", "message": "Required input is missing",
             "details": "model", "extra_info": {"input_name": "model"}},
        ],
        "dependent_outputs": ["9"],
        "class_type": "KSampler",
    }
    err = rejection(400, answer, WORKFLOW)
    assert len(err.node_errors) == 3
    lines = str(err).splitlines()
    assert len(lines) == 4
    assert lines[2] == "  - node 3 (KSampler) input 'steps': Value 0 smaller than min of 1 (steps)"
    assert lines[3] == "  - node 3 (KSampler) input 'model': Required input is missing (model)"


def test_rejection_node_not_in_workflow_keeps_class_from_answer():
    answer = copy.deepcopy(ANSWER_400)
    err = rejection(400, answer, {})
    [node] = err.node_errors
    assert node.title == ""
    assert node.class_type == "CheckpointLoaderSimple"
    assert "node 4 (CheckpointLoaderSimple) input 'ckpt_name'" in str(err)


def test_rejection_class_type_from_workflow_when_answer_lacks_it():
    answer = copy.deepcopy(ANSWER_400)
    del answer["node_errors"]["4"]["class_type"]
    [node] = rejection(400, answer, WORKFLOW).node_errors
    assert node.class_type == "CheckpointLoaderSimple"


def test_rejection_without_node_errors_keeps_details():
    answer = {"error": {"type": "invalid_prompt", "message": "Cannot execute because node Foo does not exist.",
                        "details": "Node ID '#5'", "extra_info": {}},
              "node_errors": {}}
    err = rejection(400, answer, WORKFLOW)
    assert err.node_errors == []
    assert str(err) == ("ComfyUI rejected the prompt: Cannot execute because node Foo does not exist.: "
                        "Node ID '#5' [invalid_prompt]")


def test_rejection_error_as_string():
    err = rejection(400, {"error": "no prompt", "node_errors": []}, WORKFLOW)
    assert err.message == "no prompt"
    assert err.error_type == ""


def test_rejection_not_json_object():
    err = rejection(500, "<html>Internal Server Error</html>", WORKFLOW)
    assert str(err) == "ComfyUI rejected the prompt: HTTP 500: <html>Internal Server Error</html>"
    long = rejection(502, "x" * 2000, WORKFLOW)
    assert len(long.message) == len("HTTP 502: ") + 500


def test_rejection_empty_message_falls_back_to_status():
    assert rejection(400, {"error": {}}, WORKFLOW).message == "HTTP 400"


# -- failure_from_history --------------------------------------------------------------


def history_error_entry():
    return {
        "prompt": [3, "abc", {}, {}, ["9"]],
        "outputs": {},
        "status": {
            "status_str": "error",
            "completed": False,
            "messages": [
                ["execution_start", {"prompt_id": "abc", "timestamp": 1700000000000}],
                ["execution_cached", {"nodes": [], "prompt_id": "abc", "timestamp": 1700000000001}],
                ["execution_error", {
                    "prompt_id": "abc", "node_id": "3", "node_type": "KSampler", "executed": ["4"],
                    "exception_message": "Allocation on device \n", "exception_type": "torch.OutOfMemoryError",
                    "traceback": ["  File \"execution.py\", line 1\n", "OOM\n"],
                    "current_inputs": {}, "current_outputs": {}, "timestamp": 1700000001000,
                }],
            ],
        },
        "meta": {},
    }


def test_failure_from_history_error():
    err = failure_from_history(history_error_entry())
    assert isinstance(err, ExecutionFailed)
    assert str(err) == "node 3 (KSampler) failed: torch.OutOfMemoryError: Allocation on device"
    assert err.failure.node_id == "3"
    assert err.failure.traceback == ["  File \"execution.py\", line 1\n", "OOM\n"]


def test_failure_from_history_interrupted():
    entry = history_error_entry()
    entry["status"]["messages"][2] = ["execution_interrupted", {
        "prompt_id": "abc", "node_id": "3", "node_type": "KSampler", "executed": [], "timestamp": 1}]
    err = failure_from_history(entry)
    assert isinstance(err, ExecutionInterrupted)
    assert "interrupted" in str(err)


def test_failure_from_history_error_without_details():
    err = failure_from_history({"status": {"status_str": "error", "messages": []}})
    assert type(err) is ComfyError
    assert "no details" in str(err)


def test_failure_from_history_success_is_none():
    assert failure_from_history(history_success_entry()) is None
    assert failure_from_history({}) is None


# -- result_from_history ---------------------------------------------------------------


def history_success_entry():
    return {
        "prompt": [3, "abc", {}, {}, ["9", "12", "15"]],
        "outputs": {
            "9": {"images": [
                {"filename": "CFYUI-BP_00001_.png", "subfolder": "", "type": "output"},
                {"filename": "CFYUI-BP_00002_.png", "subfolder": "batch", "type": "output"},
            ]},
            "12": {"gifs": [{"filename": "AnimateDiff_00001.mp4", "subfolder": "vid", "type": "output",
                             "format": "video/h264-mp4", "frame_rate": 8.0}]},
            "13": {"images": [{"filename": "anim_00001_.webp", "subfolder": "", "type": "output"}],
                   "animated": [False]},
            "15": {"text": ["a generated caption"]},
        },
        "status": {
            "status_str": "success",
            "completed": True,
            "messages": [
                ["execution_start", {"prompt_id": "abc", "timestamp": 1700000000000}],
                ["execution_cached", {"nodes": ["4", "6"], "prompt_id": "abc", "timestamp": 1700000000010}],
                ["execution_success", {"prompt_id": "abc", "timestamp": 1700000002500}],
            ],
        },
        "meta": {"9": {"node_id": "9", "display_node": "9", "parent_node": None, "real_node_id": "9"}},
    }


def test_result_from_history_files_texts_and_time():
    result = result_from_history("abc", history_success_entry(), [])
    assert result.prompt_id == "abc"
    assert result.status == "success"
    assert result.files == [
        OutputFile("9", "images", "CFYUI-BP_00001_.png", "", "output"),
        OutputFile("9", "images", "CFYUI-BP_00002_.png", "batch", "output"),
        OutputFile("12", "gifs", "AnimateDiff_00001.mp4", "vid", "output"),
        OutputFile("13", "images", "anim_00001_.webp", "", "output", animated=False),
    ]
    assert result.texts == [("15", "a generated caption")]
    assert result.execution_s == pytest.approx(2.5)
    assert result.cached_nodes == ["4", "6"]


def test_result_from_history_ignores_booleans_and_non_file_items():
    entry = {"outputs": {"13": {"animated": [False], "images": [True, 3, None, {"subfolder": "x"}],
                                "text": [False], "other": "not a list"}},
             "status": {"status_str": "success", "messages": []}}
    result = result_from_history("p", entry, [])
    assert result.files == []
    assert result.texts == []


def test_result_from_history_text_only_under_text_key():
    entry = {"outputs": {"1": {"strings": ["not a text output"], "text": ["yes"]}}, "status": {}}
    assert result_from_history("p", entry, []).texts == [("1", "yes")]


def test_result_from_history_defaults_for_missing_fields():
    entry = {"outputs": {"9": {"images": [{"filename": "a.png"}]}}, "status": {"status_str": "success"}}
    result = result_from_history("p", entry, [])
    assert result.files == [OutputFile("9", "images", "a.png", "", "output")]
    assert result.execution_s is None


def test_result_from_history_no_time_without_success():
    entry = history_success_entry()
    entry["status"]["messages"] = entry["status"]["messages"][:2]
    assert result_from_history("abc", entry, []).execution_s is None


def test_result_from_history_keeps_cached_nodes_given_by_socket():
    result = result_from_history("abc", history_success_entry(), ["7"])
    assert result.cached_nodes == ["7"]
