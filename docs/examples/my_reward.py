"""Example reward functions with TRL's signature, to serve with reward_server.py (docs/reward-server.md):

    python3 docs/examples/reward_server.py --bind tcp://127.0.0.1:5555 docs/examples/my_reward.py:accuracy

Each takes the batch's prompts and completions (strings) and the dataset's other columns as keywords, and
returns one float per completion, or None where the reward does not apply (TRL's convention).
"""
import re
from fractions import Fraction

NUMBER = re.compile(r"-?\d+(?:,\d{3})*(?:\.\d+)?(?:/\d+)?")  # 42, -1,234.5, 3/4


def last_number(text):
    """The value of the last number in text (a Fraction, so 0.5 == 1/2 == 0.50), or None."""
    found = NUMBER.findall(text)
    if not found:
        return None
    try:
        return Fraction(found[-1].replace(",", ""))
    except (ValueError, ZeroDivisionError):  # 1/0
        return None


def final_text(completion):
    """The text after the last </think>: the reasoning's numbers are not the answer."""
    return completion.rsplit("</think>", 1)[-1]


def accuracy(prompts, completions, answer, **kwargs):
    """1.0 when the completion's last number (after </think>) equals the answer's by value, else 0.0.

    The answer column can be a bare value ("72") or a GSM8K solution ending in "#### 72". None (not
    applicable) where the answer is empty or holds no number.
    """
    rewards = []
    for completion, ref in zip(completions, answer):
        expected = last_number(str(ref)) if ref not in (None, "") else None
        if expected is None:
            rewards.append(None)
        else:
            rewards.append(1.0 if last_number(final_text(completion)) == expected else 0.0)
    return rewards


MAX_REASONING_CHARS = 2000


def short_reasoning(prompts, completions, **kwargs):
    """A small bonus for short reasoning: 0.2 for none, falling linearly to 0 at MAX_REASONING_CHARS.

    The reasoning is the text before the last </think>, or the whole completion when it has none.
    """
    rewards = []
    for completion in completions:
        reasoning = completion.rsplit("</think>", 1)[0]
        rewards.append(0.2 * max(0.0, 1.0 - len(reasoning) / MAX_REASONING_CHARS))
    return rewards


def wrong_length(prompts, completions, **kwargs):
    """For tests: a reply the trainer must refuse (one reward too few)."""
    return [0.0] * (len(completions) - 1)
