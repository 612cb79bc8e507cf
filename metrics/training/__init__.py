"""The effect of training: on site activity (staggered difference in differences) and on the
chance of going silent (survival curves and a Cox hazard ratio)."""
