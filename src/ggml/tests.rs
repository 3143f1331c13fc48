//! Tests of the ggml wrappers against the real ggml CPU backend.

use super::*;

#[test]
fn type_table_matches_ggml() {
    for ty in GgmlType::all() {
        let (blck, size) = type_traits(ty);
        assert_eq!((ty.block_size(), ty.type_size()), (blck, size), "{ty}");
    }
    assert_eq!(GgmlType::from_id(4), None);
    assert_eq!(GgmlType::from_id(31), None);
    assert_eq!(GgmlType::from_id(43), None);
}

#[test]
fn registry_has_a_cpu_device() {
    let cpu = Device::cpu().expect("CPU device");
    assert_eq!(cpu.kind(), DeviceKind::Cpu);
    assert!(!cpu.name().is_empty());
    assert!(version().starts_with("0."), "{}", version());
}

/// y = W·x + b on the CPU backend through the scheduler, weights in a
/// host-memory buffer we own (as the mmap'd model will be), against a plain
/// Rust computation.
#[test]
fn matmul_through_scheduler_matches_rust() {
    let (k, m, n) = (64usize, 8usize, 3usize);
    let w: Vec<f32> = (0..k * m)
        .map(|i| ((i * 7 % 13) as f32 - 6.0) / 8.0)
        .collect();
    let x: Vec<f32> = (0..k * n)
        .map(|i| ((i * 5 % 11) as f32 - 5.0) / 4.0)
        .collect();
    let b: Vec<f32> = (0..m).map(|i| i as f32 / 10.0).collect();

    let cpu = Device::cpu().expect("CPU device");
    let backend = cpu.init().expect("CPU backend");
    backend.set_threads(2);

    // Weights: a context of weight tensors placed in host memory we own.
    let weights_ctx = Context::new(2, 0).expect("ctx");
    let tw = weights_ctx
        .new_tensor(GgmlType::F32, &[k as i64, m as i64])
        .set_name("w");
    let tb = weights_ctx
        .new_tensor(GgmlType::F32, &[m as i64])
        .set_name("b");
    let bytes: Vec<u8> = w
        .iter()
        .chain(b.iter())
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let len = bytes.len() + 64;
    let mut storage = vec![0u8; len + buffer::HOST_ALIGNMENT];
    let start = storage.as_ptr().align_offset(buffer::HOST_ALIGNMENT);
    storage[start..start + bytes.len()].copy_from_slice(&bytes);
    let host = &storage[start..start + len];
    assert!(
        Buffer::from_host_memory(cpu, &storage[start + 1..start + 1 + bytes.len()]).is_err(),
        "misaligned host memory must be refused"
    );
    let wbuf = Buffer::from_host_memory(cpu, host).expect("host buffer");
    wbuf.place(tw, 0).expect("place w");
    wbuf.place(tb, k * m * 4).expect("place b");
    assert!(
        wbuf.place(tb, host.len() - 4).is_err(),
        "out of range placement must fail"
    );

    // Graph context: input and ops.
    let ctx = Context::new(8, 64).expect("ctx");
    let tx = ctx
        .new_tensor(GgmlType::F32, &[k as i64, n as i64])
        .set_name("x")
        .set_input();
    let y = ctx.add(ctx.mul_mat(tw, tx), tb).set_name("y").set_output();
    let mut graph = ctx.new_graph(64);
    graph.build_forward(y);
    assert_eq!(graph.n_nodes(), 2);

    let mut sched = Scheduler::new(&[&backend], 64, false).expect("sched");
    sched.alloc_graph(&mut graph).expect("alloc");
    tx.write_f32(&x).expect("write x");
    assert!(tx.write_f32(&x[1..]).is_err(), "short write must fail");
    sched.compute(&mut graph).expect("compute");
    let got = y.read_f32().expect("read y");

    for j in 0..n {
        for i in 0..m {
            let want: f32 = (0..k).map(|kk| w[i * k + kk] * x[j * k + kk]).sum::<f32>() + b[i];
            let g = got[j * m + i];
            assert!((g - want).abs() < 1e-3, "y[{j},{i}] = {g}, want {want}");
        }
    }
}
