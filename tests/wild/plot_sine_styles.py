r"""
Line styles on a sine wave
==========================

Draws :math:`\sin(x)` with three line styles. Each style is one
:meth:`~matplotlib.axes.Axes.plot` call with a different ``linestyle``.

.. versionadded:: 3.8
   The examples below need nothing newer.
"""

import matplotlib.pyplot as plt
import numpy as np

x = np.linspace(0, 2 * np.pi, 100)

###############################################################################
# Three styles
# ^^^^^^^^^^^^
#
# The styles are:
#
# 1. ``"-"``, a solid line;
# 2. ``"--"``, dashes;
# 3. ``":"``, dots.
#
# .. code-block:: python
#    :caption: the same call, by name
#
#    ax.plot(x, y, linestyle="dashed")
#
# .. seealso:: :doc:`/gallery/lines_bars_and_markers/linestyles` and
#    :func:`matplotlib.pyplot.plot`.

fig, ax = plt.subplots(figsize=(4, 3))
for offset, style in enumerate(["-", "--", ":"]):
    ax.plot(x, np.sin(x) + offset, linestyle=style, label=repr(style))
ax.legend()
plt.show()

# %%
# linestyle
#     The argument that picks the style.
# color
#     Not set here: each line takes the next color of the cycle.
#
# .. admonition:: Tip
#
#    Pass ``drawstyle="steps"`` for a step plot.
#
# .. minigallery:: matplotlib.axes.Axes.plot

print(len(ax.lines))
