//! Generates Rust bindings for ggml's public C headers.
//!
//! The headers come from the ggml that `llama-cpp-sys-2` builds and installs.
//! Its build script exports the installed CMake package directory as
//! `DEP_LLAMA_GGML_CMAKE_DIR` (`<prefix>/lib/cmake`); `<prefix>/include` holds
//! the headers. We run bindgen over one wrapper that includes all four headers
//! (listing them separately makes bindgen see `ggml_tallocr` twice).

use std::env;
use std::path::PathBuf;

const HEADERS: [&str; 4] = ["ggml.h", "ggml-alloc.h", "ggml-backend.h", "ggml-cpu.h"];

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=DEP_LLAMA_GGML_CMAKE_DIR");
    let cmake_dir = env::var("DEP_LLAMA_GGML_CMAKE_DIR").unwrap_or_else(|_| {
        panic!("ggml-sys: llama-cpp-sys-2 did not export DEP_LLAMA_GGML_CMAKE_DIR (is the pinned version in use?)")
    });
    let prefix = PathBuf::from(&cmake_dir)
        .ancestors()
        .nth(2)
        .map(PathBuf::from)
        .unwrap_or_else(|| panic!("ggml-sys: unexpected cmake dir {cmake_dir}"));
    let include = prefix.join("include");
    for h in HEADERS {
        let p = include.join(h);
        assert!(p.is_file(), "ggml-sys: header {} not found", p.display());
        println!("cargo:rerun-if-changed={}", p.display());
    }
    println!("cargo:include={}", include.display());

    let wrapper: String = HEADERS
        .iter()
        .map(|h| format!("#include \"{h}\"\n"))
        .collect();
    let bindings = bindgen::Builder::default()
        .header_contents("kchat_ggml_wrapper.h", &wrapper)
        .clang_arg(format!("-I{}", include.display()))
        .allowlist_function("ggml_.*")
        .allowlist_type("ggml_.*")
        .allowlist_var("GGML_.*")
        .default_enum_style(bindgen::EnumVariation::Consts)
        .prepend_enum_name(false)
        .derive_default(true)
        .layout_tests(false)
        .generate_comments(false)
        .generate()
        .unwrap_or_else(|e| panic!("ggml-sys: bindgen failed: {e}"));
    let out =
        PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR is set by cargo")).join("bindings.rs");
    bindings
        .write_to_file(&out)
        .unwrap_or_else(|e| panic!("ggml-sys: cannot write {}: {e}", out.display()));
}
