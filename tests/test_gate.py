"""The gate on its labelled corpus (tests/llm_corpus/): every garbage answer a small model
really gave is rejected, no hand-written good draft is; and each rule on its own."""

import dataclasses

import pytest
from llm_corpus import load, verdict

from pipeline.llm.gate import (
    GateContext,
    chatter,
    code_blocks,
    echo,
    judge,
    lead_in,
    mostly_headings,
    no_results,
    off_topic,
    phrases,
    repetition,
    truncated,
    ungrounded,
)

GARBAGE, GOOD = load("garbage"), load("good")


def test_the_corpus_has_every_kind_seen_and_both_languages():
    assert {"loop", "echo", "lead-in", "truncated", "code", "language"} <= {e.kind for e in GARBAGE}
    assert all(e.label == "garbage" for e in GARBAGE) and all(e.label == "good" for e in GOOD)
    assert {e.context["language"] for e in GOOD} == {"ja", "en"}
    assert any(e.wants_heading for e in GOOD) and any(e.wants_heading for e in GARBAGE)


@pytest.mark.parametrize("example", GARBAGE, ids=[e.id for e in GARBAGE])
def test_every_garbage_answer_is_rejected(example):
    assert verdict(example), example.answer[:300]


@pytest.mark.parametrize("example", GOOD, ids=[e.id for e in GOOD])
def test_no_good_draft_is_rejected(example):
    assert verdict(example) is None


CTX = GateContext(prompt="# 語彙\n[cell 2]\nvocab_size = len(tokenizer)\nprint(vocab_size)\n[output]\n49152",
                  instructions="あなたは機械学習の技術記事の編集者です。次のコードが何をしているかを説明してください。",
                  chapters=("モデルのロードと最初の生成", "Tokenizerの動作確認", "語彙数と埋め込み行列の確認"),
                  headings=("語彙数と埋め込み行列の確認", "語彙の大きさ"), evidence="vocab_size 49152",
                  own_terms=("tokenizer", "vocab_size"), other_terms=("emb_dim", "embedding", "weight"),
                  anchors=("49152", "size", "tokenizer", "vocab", "vocab_size"), results=("49152",))
GOOD_TEXT = "語彙の大きさを tokenizer から数えて表示しています。出力の 49152 が語彙数です。"


def test_each_rule_fires_on_its_own_failure_and_not_on_good_prose():
    assert repetition("- 同じ文がここに入ります。\n" * 3) and repetition("abcdefgh 12 ijk; " * 20)
    assert echo("あなたは機械学習の技術記事の編集者です。", CTX)
    assert "chapters" in echo("1. モデルのロードと最初の生成\n2. Tokenizerの動作確認", CTX)
    assert "copied" in echo("vocab_size = len(tokenizer)\nprint(vocab_size)", CTX)
    assert lead_in("以下のコードを使用して実行。") and lead_in("Here is the code:")
    assert truncated("語彙数を数えて、その結果を", "length") and not truncated("語彙数を数えた。", "length")
    assert not truncated("語彙数を数えて、その結果を", "stop")
    assert mostly_headings("## 語彙の大きさ\n**語彙数と埋め込み行列の確認**", CTX)
    assert off_topic("emb_dim と embedding の weight を見ています。", CTX)
    for rule in (repetition, lead_in):
        assert rule(GOOD_TEXT) is None
    assert echo(GOOD_TEXT, CTX) is None and mostly_headings(GOOD_TEXT, CTX) is None and off_topic(GOOD_TEXT, CTX) is None
    assert judge(GOOD_TEXT, "stop", CTX, 0.25).ok


def test_a_proposed_heading_is_split_off_and_a_bad_one_dropped():
    verdict = judge(f"見出し: 語彙数を数える\n{GOOD_TEXT}", "stop", CTX, 0.25, wants_heading=True)
    assert verdict.ok and verdict.heading == "語彙数を数える" and verdict.text == GOOD_TEXT
    long = judge(f"見出し: {'とても長い見出し' * 8}\n{GOOD_TEXT}", "stop", CTX, 0.25, wants_heading=True)
    assert long.ok and long.heading == ""


def test_the_rules_of_issue_26_fire_on_their_failure_and_not_on_good_prose():
    # near-identical lines: the same sentence with another value or word is a loop
    assert "near-identical" in repetition("- 異なる続きの数は Greedy で多く、毎回同じ物語を返した。\n"
                                          "- 異なる続きの数は Sampling で多く、毎回同じ物語を返した。")
    # the author's own sentences, re-used or scrambled, are an echo
    author = CTX.prompt + "\n## observations\n- 語彙数は 49152 で、埋め込み行列の行数と同じになった。"
    assert "re-uses" in echo("埋め込み行列の行数と同じになった、語彙数は 49152 で。", dataclasses.replace(CTX, prompt=author))
    assert "code blocks" in code_blocks("説明です。\n```python\nx = tokenizer(vocab)\nprint(x)\nprint(x)\n```")
    assert "phrases" in phrases("1. Classification of iris flowers\n2. Classifying iris flowers", "en")
    assert chatter("You've already provided a clear explanation. Here's a polished version:")
    # grounded: name something its own code or outputs hold, and say something about it
    assert ungrounded("コードで、Pythonの結景を食べる。", CTX)
    assert ungrounded("tokenizer.", CTX)
    assert "states none of their values" in no_results("tokenizer の語彙の数を数えて、その結果を表示しています。", CTX)
    assert no_results("tokenizer の語彙の数を数えています。", CTX) is None  # says nothing of the outputs
    for rule in (code_blocks, chatter):
        assert rule(GOOD_TEXT) is None
    assert phrases(GOOD_TEXT, "ja") is None and ungrounded(GOOD_TEXT, CTX) is None and no_results(GOOD_TEXT, CTX) is None
    assert echo(GOOD_TEXT, dataclasses.replace(CTX, prompt=author)) is None


def test_the_corpus_holds_notebooks_other_than_the_seed():
    sets = {e.set for e in GARBAGE} | {e.set for e in GOOD}
    assert "seed" in sets and len(sets - {"seed"}) >= 3
    assert {e.context["language"] for e in GOOD if e.set != "seed"} == {"ja", "en"}
    assert any(e.kind == "mix-up" for e in GARBAGE)  # real mix-ups, not only invented numbers
