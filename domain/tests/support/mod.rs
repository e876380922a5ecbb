pub mod pyx12;
