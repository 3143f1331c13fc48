//! The `kchat` command line.

fn main() {
    println!("kchat");
}
