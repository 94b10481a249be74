/* infantjax dashboard: the player, the timeline, the live skeleton and the quality strip kept on one clock. */
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("dashboard-data").textContent);
  var root = document.getElementById("dashboard");
  var video = document.getElementById("player");
  var note = document.getElementById("video-note");
  var frames = data.frames, windows = data.windows, J = data.joints.length;
  var joints = Array.prototype.slice.call(document.querySelectorAll("#live-skeleton .live-joint"));
  var bones = Array.prototype.slice.call(document.querySelectorAll("#live-skeleton .bone"));
  var bars = Array.prototype.slice.call(document.querySelectorAll("#timeline .window"));
  var heads = Array.prototype.slice.call(document.querySelectorAll("svg .playhead"));

  function camColour(s) {
    var v = Math.pow(Math.min(Math.max(s, 0), 1), 0.25);
    return "rgb(" + Math.round(255 * v) + "," + Math.round(255 * (1 - v)) + ",0)";
  }
  function lastAtOrBefore(list, t, key) {  // the last index whose time is <= t (0 when none is)
    var lo = 0, hi = list.length - 1, found = 0;
    while (lo <= hi) {
      var mid = (lo + hi) >> 1, v = key ? list[mid][key] : list[mid];
      if (v <= t + 1e-6) { found = mid; lo = mid + 1; } else { hi = mid - 1; }
    }
    return found;
  }
  function fmt(s) { return (Math.round(s * 10) / 10).toFixed(1); }

  var shownWindow = -1;
  function show(t) {
    heads.forEach(function (line) {
      var svg = line.ownerSVGElement, left = +svg.dataset.left, width = +svg.dataset.plotWidth;
      var d = Math.max(+svg.dataset.duration, 1e-6);
      var x = left + width * Math.min(Math.max(t, 0), d) / d;
      line.setAttribute("x1", x); line.setAttribute("x2", x);
    });
    document.getElementById("now").textContent = fmt(t) + " s";
    var f = frames.t.length ? lastAtOrBefore(frames.t, t) : -1;
    var k = windows.length ? lastAtOrBefore(windows, t, "start") : -1;
    var w = k >= 0 ? windows[k] : null;
    if (f >= 0) {
      var xy = frames.xy[f];
      joints.forEach(function (c, j) {
        var x = xy[2 * j], y = xy[2 * j + 1];
        if (x === null || y === null) { c.setAttribute("visibility", "hidden"); return; }
        c.setAttribute("visibility", "visible"); c.setAttribute("cx", x); c.setAttribute("cy", y);
        if (w && w.cam) { c.setAttribute("fill", camColour(w.cam[j])); }
      });
      bones.forEach(function (b) {
        var a = +b.dataset.a, e = +b.dataset.b;
        var ok = xy[2 * a] !== null && xy[2 * e] !== null;
        b.setAttribute("visibility", ok ? "visible" : "hidden");
        if (ok) {
          b.setAttribute("x1", xy[2 * a]); b.setAttribute("y1", xy[2 * a + 1]);
          b.setAttribute("x2", xy[2 * e]); b.setAttribute("y2", xy[2 * e + 1]);
        }
      });
      root.dataset.frame = f;
    }
    if (k !== shownWindow && w) {
      shownWindow = k;
      root.dataset.window = k;
      bars.forEach(function (b, i) { b.classList.toggle("active", i === k); });
      document.getElementById("live-window").textContent = "Window " + (k + 1) + " of " + windows.length + ": " +
        fmt(w.start) + "–" + fmt(w.end) + " s, risk " + w.risk.toFixed(3) + " (" + w.colour + ", " +
        Math.round(100 * w.share_cp) + " % of instances predict CP).";
      var top = document.getElementById("live-top");
      if (w.cam) {
        var order = w.cam.map(function (v, j) { return [v, j]; }).sort(function (a, b) { return b[0] - a[0]; });
        top.textContent = "Highest CAM: " + order.slice(0, 3).map(function (p) {
          return data.joints[p[1]] + " " + p[0].toFixed(2); }).join(", ") + ".";
      } else {
        top.textContent = "No class activation map for this window.";
      }
    }
  }

  function playFrom(t) {
    root.dataset.seek = t;
    if (video) {
      video.currentTime = t;
      var p = video.play();
      if (p && p.catch) { p.catch(function () {}); }
    }
    show(t);
  }
  Array.prototype.forEach.call(document.querySelectorAll("#timeline .window, .win-link"), function (el) {
    el.addEventListener("click", function () { playFrom(+el.dataset.start); });
    el.addEventListener("keydown", function (e) {
      if (e.key === "Enter" || e.key === " ") { e.preventDefault(); playFrom(+el.dataset.start); }
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
