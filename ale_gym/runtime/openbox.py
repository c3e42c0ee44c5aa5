"""The window manager's configuration: a plain single-workspace desktop.

One workspace, so no window can be lost on another one; new windows take the focus, so an application
opened at reset receives the typing that follows; the usual decoration bindings (move by the title bar,
resize by the edges, the title bar buttons) and Alt+Tab / Alt+F4.

There is deliberately no binding inside windows ("Client" context): openbox implements those with a
synchronous button grab that freezes the pointer until it has reacted, and events sent meanwhile are
replayed at the wrong position. Click-to-focus is done by the desktop instead, which asks the window
manager to activate the window under a click and waits until it has (see `Desktop.perform`).
"""

from __future__ import annotations

from pathlib import Path

_FOCUS_RAISE = '<action name="Focus"/><action name="Raise"/>'

RC_XML = f"""<?xml version="1.0" encoding="UTF-8"?>
<openbox_config xmlns="http://openbox.org/3.4/rc">
  <resistance><strength>0</strength><screen_edge_strength>0</screen_edge_strength></resistance>
  <focus><focusNew>yes</focusNew><followMouse>no</followMouse><focusLast>yes</focusLast></focus>
  <placement><policy>Smart</policy><center>yes</center></placement>
  <theme><name>Clearlooks</name><titleLayout>NLIMC</titleLayout><keepBorder>yes</keepBorder>
    <animateIconify>no</animateIconify></theme>
  <desktops><number>1</number><firstdesk>1</firstdesk><popupTime>0</popupTime></desktops>
  <keyboard>
    <keybind key="A-Tab"><action name="NextWindow"/></keybind>
    <keybind key="A-S-Tab"><action name="PreviousWindow"/></keybind>
    <keybind key="A-F4"><action name="Close"/></keybind>
  </keyboard>
  <mouse>
    <dragThreshold>3</dragThreshold>
    <doubleClickTime>500</doubleClickTime>
    <screenEdgeWarpTime>0</screenEdgeWarpTime>
    <context name="Titlebar Top Right Bottom Left TLCorner TRCorner BRCorner BLCorner Icon Close Maximize Iconify">
      <mousebind button="Left" action="Press">{_FOCUS_RAISE}</mousebind>
    </context>
    <context name="Titlebar">
      <mousebind button="Left" action="Drag"><action name="Move"/></mousebind>
      <mousebind button="Left" action="DoubleClick"><action name="ToggleMaximize"/></mousebind>
    </context>
    <context name="Top"><mousebind button="Left" action="Drag"><action name="Resize"><edge>top</edge></action></mousebind></context>
    <context name="Left"><mousebind button="Left" action="Drag"><action name="Resize"><edge>left</edge></action></mousebind></context>
    <context name="Right"><mousebind button="Left" action="Drag"><action name="Resize"><edge>right</edge></action></mousebind></context>
    <context name="Bottom"><mousebind button="Left" action="Drag"><action name="Resize"><edge>bottom</edge></action></mousebind></context>
    <context name="TLCorner TRCorner BRCorner BLCorner"><mousebind button="Left" action="Drag"><action name="Resize"/></mousebind></context>
    <context name="Close"><mousebind button="Left" action="Click"><action name="Close"/></mousebind></context>
    <context name="Maximize"><mousebind button="Left" action="Click"><action name="ToggleMaximize"/></mousebind></context>
    <context name="Iconify"><mousebind button="Left" action="Click"><action name="Iconify"/></mousebind></context>
  </mouse>
</openbox_config>
"""


def write_config(folder: Path) -> Path:
    path = folder / "rc.xml"
    path.write_text(RC_XML, encoding="utf-8")
    return path
