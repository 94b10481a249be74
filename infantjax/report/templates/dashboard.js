/* infantjax dashboard: the player, the timeline, the live skeleton and the quality strip kept on one clock.
   A click on a window selects it (it stays selected until another is chosen: the skeleton shows its CAM) and plays
   the video from its start; the video stops at the window's end. */
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("dashboard-data").textContent);
  var root = document.getElementById("dashboard");
  var video = document.getElementById("player");
  var note = document.getElementById("video-note");
  var frames = data.frames, windows = data.windows;
  var joints = Array.prototype.slice.call(document.querySelectorAll("#live-skeleton .live-joint"));
  var bones = Array.prototype.slice.call(document.querySelectorAll("#live-skeleton .bone"));
  var bars = Array.prototype.slice.call(document.querySelectorAll("#timeline .window"));
  var heads = Array.prototype.slice.call(document.querySelectorAll(".tl-plot .playhead"));
  var links = Array.prototype.slice.call(document.querySelectorAll(".win-link"));
  var scale = data.scale.map(function (h) {
    return [1, 3, 5].map(function (i) { return parseInt(h.substr(i, 2), 16); });
  });

  /* the sequential scale of infantjax.explain.colours; a CAM score is drawn at score^(1/4), as cam_colour does */
  function scaleColour(v) {
    v = Math.min(Math.max(isFinite(v) ? v : 0, 0), 1);
    var x = v * (scale.length - 1), lo = Math.min(Math.floor(x), scale.length - 2), t = x - lo;
    var rgb = [0, 1, 2].map(function (c) { return Math.round(scale[lo][c] * (1 - t) + scale[lo + 1][c] * t); });
    return "rgb(" + rgb.join(",") + ")";
  }
  function camColour(s) { return scaleColour(Math.pow(Math.min(Math.max(s, 0), 1), 0.25)); }
  function lastAtOrBefore(list, t, key) {  // the last index whose time is <= t (0 when none is)
    var lo = 0, hi = list.length - 1, found = 0;
    while (lo <= hi) {
      var mid = (lo + hi) >> 1, v = key ? list[mid][key] : list[mid];
      if (v <= t + 1e-6) { found = mid; lo = mid + 1; } else { hi = mid - 1; }
    }
    return found;
  }
  function fmt(s) { return (Math.round(s * 10) / 10).toFixed(1); }

  var selected = -1;   /* the window chosen by a click, or -1: the skeleton then follows the playhead */
  var stopAt = null;   /* the end of the window being played: the video stops there */
  var coloured = -2;

  function colourJoints(k) {
    if (k === coloured) { return; }
    coloured = k;
    var w = k >= 0 ? windows[k] : null;
    joints.forEach(function (c, j) { c.setAttribute("fill", w && w.cam ? camColour(w.cam[j]) : "#8c8c8c"); });
    var top = document.getElementById("live-top");
    if (!w) { top.textContent = ""; return; }
    if (w.cam) {
      var order = w.cam.map(function (v, j) { return [v, j]; }).sort(function (a, b) { return b[0] - a[0]; });
      top.textContent = "Highest CAM toward " + data.cam_toward + " in window " + (k + 1) + ": " +
        order.slice(0, 3).map(function (p) { return data.joints[p[1]] + " " + p[0].toFixed(2); }).join(", ") + ".";
    } else {
      top.textContent = "No class activation map for this window.";
    }
  }

  function describe(k, how) {
    var w = windows[k];
    var tracking = w.tracking && w.tracking !== "good" ?
      (w.tracking === "unreliable" ? "; left out: tracking unreliable" : "; tracking doubtful") : "";
    document.getElementById("live-window").textContent = how + " window " + (k + 1) + " of " + windows.length +
      ": " + fmt(w.start) + "–" + fmt(w.end) + " s, risk " + w.risk.toFixed(3) + " (" + w.colour + ", " +
      Math.round(100 * w.share_cp) + " % of instances predict CP" + tracking + ").";
  }

  function show(t) {
    var d = Math.max(data.duration, 1e-6);
    heads.forEach(function (h) { h.style.left = (100 * Math.min(Math.max(t, 0), d) / d) + "%"; });
    document.getElementById("now").textContent = fmt(t) + " s";
    var f = frames.t.length ? lastAtOrBefore(frames.t, t) : -1;
    if (f >= 0) {
      var xy = frames.xy[f];
      var unseen = {};  /* joints of a limb the gate calls hidden: the pose model's guess, drawn faded */
      (frames.hidden ? frames.hidden[f] : []).forEach(function (j) { unseen[j] = true; });
      joints.forEach(function (c, j) {
        var x = xy[2 * j], y = xy[2 * j + 1];
        if (x === null || y === null) { c.setAttribute("visibility", "hidden"); return; }
        c.setAttribute("visibility", "visible"); c.setAttribute("cx", x); c.setAttribute("cy", y);
        c.classList.toggle("unseen", !!unseen[j]);
      });
      bones.forEach(function (b) {
        var a = +b.dataset.a, e = +b.dataset.b;
        var ok = xy[2 * a] !== null && xy[2 * e] !== null;
        b.classList.toggle("unseen", !!(unseen[a] || unseen[e]));
        b.setAttribute("visibility", ok ? "visible" : "hidden");
        if (ok) {
          b.setAttribute("x1", xy[2 * a]); b.setAttribute("y1", xy[2 * a + 1]);
          b.setAttribute("x2", xy[2 * e]); b.setAttribute("y2", xy[2 * e + 1]);
        }
      });
      root.dataset.frame = f;
    }
    if (selected < 0 && windows.length) {  /* nothing chosen yet: the window the playhead is in */
      var k = lastAtOrBefore(windows, t, "start");
      colourJoints(k);
      describe(k, "At the playhead:");
      root.dataset.playhead = k;
    }
    if (stopAt !== null && video && t >= stopAt - 1e-3) {
      /* the window's end: stop, on its last frame (a frame drawn a little late is taken back) */
      var end = stopAt;
      stopAt = null;
      video.pause();
      if (t > end) { video.currentTime = Math.max(end - 1e-3, windows[selected].start); }
      root.dataset.stopped = selected;
      describe(selected, "Selected (played to its end):");
    }
  }

  function select(k, play) {
    var w = windows[k];
    selected = k;
    root.dataset.window = k;
    root.dataset.seek = w.start;
    bars.forEach(function (b, i) {
      b.classList.toggle("active", i === k);
      b.setAttribute("aria-pressed", i === k ? "true" : "false");
    });
    links.forEach(function (b) { b.classList.toggle("active", +b.dataset.index === k); });
    colourJoints(k);
    describe(k, "Selected");
    delete root.dataset.stopped;
    if (video && play) {
      stopAt = w.end;
      video.currentTime = w.start;
      var p = video.play();
      if (p && p.catch) { p.catch(function () {}); }
    }
    show(w.start);
  }
  Array.prototype.forEach.call(document.querySelectorAll("#timeline .window, .win-link"), function (el) {
    el.addEventListener("click", function () { select(+el.dataset.index, true); });
    el.addEventListener("keydown", function (e) {
      if (e.key === "Enter" || e.key === " ") { e.preventDefault(); select(+el.dataset.index, true); }
    });
  });

  if (video) {
    var ticking = false;
    var tick = function () {
      show(video.currentTime);
      if (!video.paused && !video.ended) { window.requestAnimationFrame(tick); } else { ticking = false; }
    };
    video.addEventListener("play", function () { if (!ticking) { ticking = true; window.requestAnimationFrame(tick); } });
    ["timeupdate", "seeked", "loadedmetadata"].forEach(function (ev) {
      video.addEventListener(ev, function () { show(video.currentTime); });
    });
    /* a seek outside the window being played (the player's own bar) ends its playback: nothing stops later */
    video.addEventListener("seeking", function () {
      if (stopAt !== null && selected >= 0 &&
          (video.currentTime < windows[selected].start - 0.05 || video.currentTime > stopAt)) { stopAt = null; }
    });
    video.addEventListener("error", function () {
      note.hidden = false;
      note.textContent = "This browser cannot play " + data.video + ". The timeline, keypoints and explanations " +
        "still work; a browser plays H.264 video in an MP4 file (e.g. `ffmpeg -i VIDEO -c:v libx264 " +
        "-pix_fmt yuv420p video.mp4`), or run infantjax assess with --labelled.";
      root.dataset.videoError = "1";
    });
  }
  show(0);
  root.dataset.ready = "1";
}());
