use super::Percentiles;

#[test]
fn nearest_rank_percentiles() {
    let samples: Vec<f64> = (1..=100).map(f64::from).collect();
    let p = Percentiles::of(&samples).unwrap();
    assert_eq!(
        (p.p50_ms, p.p95_ms, p.p99_ms, p.max_ms),
        (50.0, 95.0, 99.0, 100.0)
    );
    let one = Percentiles::of(&[7.0]).unwrap();
    assert_eq!((one.p50_ms, one.p99_ms), (7.0, 7.0));
    assert!(Percentiles::of(&[]).is_none());
}
