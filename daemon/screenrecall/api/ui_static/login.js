// The one-time code is spent by a POST (no GET changes state); submit it at once.
document.getElementById("login")?.submit();
