// A bouncing ball: the demo render job renders frames of this animation.
#version 3.7;
global_settings { assumed_gamma 1.0 }
camera { location <0, 2, -6> look_at <0, 1, 0> }
light_source { <5, 10, -5> color rgb 1 }
plane { y, 0 pigment { checker color rgb 1 color rgb 0.2 } }
sphere { <0, 1 + 0.5 * sin(clock * 2 * pi), 0>, 1 pigment { color rgb <0.9, 0.3, 0.2> } finish { phong 0.6 } }
