{
  "targets": [
    {
      "target_name": "sparse_soups",
      "sources": [
        "native/src/addon.cc",
        "native/src/tensor_wrap.cc",
        "native/src/ops_create.cc",
        "native/src/ops_math.cc",
        "native/src/ops_nn.cc",
        "native/src/max_pool.cc",
        "native/src/small_conv.cc",
        "native/src/sparse_ops.cc",
        "native/src/sparse_kernels.cc",
        "native/src/sparse_plan.cc",
        "native/src/sparse_plan_spec.cc",
        "native/src/sparse_plan_steps.cc",
        "native/src/sparse_plan_exec.cc"
      ],
      "include_dirs": [
        "<!@(node -p \"require('node-addon-api').include_dir\")",
        "<!@(node scripts/libtorch.mjs --include)"
      ],
      "libraries": ["<!@(node scripts/libtorch.mjs --libs)"],
      "defines": ["NAPI_CPP_EXCEPTIONS", "NAPI_VERSION=8", "<!@(node scripts/libtorch.mjs --defines)"],
      "cflags!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17"],
      "cflags_cc": ["<!@(node scripts/libtorch.mjs --std)", "-O3", "-fexceptions", "-frtti", "-Wno-unused-parameter", "-Wno-deprecated-declarations"]
    }
  ]
}
