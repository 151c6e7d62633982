"""Sources of frames: the screen and watched folders."""
